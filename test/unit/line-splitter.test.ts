// The runtime's output cut into lines: across chunks, multi-byte characters split between chunks,
// carriage returns, a last line without a newline, and lines too long (cut, the rest dropped).

import { PassThrough } from "node:stream";
import { once } from "node:events";
import { describe, expect, it } from "vitest";
import { splitLines } from "../../gateway/adapter/line-splitter.js";

async function linesOf(chunks: Array<string | Buffer>, maxLength = 100): Promise<string[]> {
  const stream = new PassThrough();
  const lines: string[] = [];
  splitLines(stream, maxLength, (line) => lines.push(line));
  for (const chunk of chunks) stream.write(chunk);
  stream.end();
  await once(stream, "end");
  return lines;
}

describe("splitLines", () => {
  it("gives each line once, whatever the chunks", async () => {
    expect(await linesOf(["one\ntw", "o\n\nthree\r\n", "four"])).toEqual(["one", "two", "", "three", "four"]);
  });

  it("keeps a character whose bytes arrive in two chunks", async () => {
    const bytes = Buffer.from("é€\n");
    expect(await linesOf([bytes.subarray(0, 1), bytes.subarray(1, 3), bytes.subarray(3)])).toEqual(["é€"]);
  });

  it("cuts a line at the limit and drops the rest of it, however many chunks it takes", async () => {
    expect(await linesOf(["abcdef", "ghij", "klmn\nnext\n"], 5)).toEqual(["abcde", "next"]);
    expect(await linesOf(["x".repeat(12), "\n"], 5)).toEqual(["xxxxx"]);
    expect(await linesOf(["1234567\n"], 5)).toEqual(["12345"]);
  });
});
