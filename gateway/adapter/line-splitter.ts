// Cuts a byte stream (a runtime's stdout or stderr) into lines as they arrive. A line longer than the
// limit is cut there and the rest of it dropped, so that output without newlines holds no more memory
// than one line.

import { StringDecoder } from "node:string_decoder";
import type { Readable } from "node:stream";

export function splitLines(stream: Readable, maxLength: number, onLine: (line: string) => void): void {
  const decoder = new StringDecoder("utf8");
  let partial = "";
  /** The current line was cut already: drop what comes until its newline. */
  let dropping = false;
  const take = (text: string): void => {
    let start = 0;
    for (let newline = text.indexOf("\n", start); newline !== -1; newline = text.indexOf("\n", start)) {
      if (!dropping) onLine(trimEnd(partial + text.slice(start, newline), maxLength));
      partial = "";
      dropping = false;
      start = newline + 1;
    }
    if (dropping) return;
    partial += text.slice(start);
    if (partial.length > maxLength) {
      onLine(partial.slice(0, maxLength));
      partial = "";
      dropping = true;
    }
  };
  stream.on("data", (chunk: Buffer) => take(decoder.write(chunk)));
  stream.on("end", () => {
    take(decoder.end());
    if (partial !== "" && !dropping) onLine(partial);
  });
}

/** Without a trailing carriage return, and at most `maxLength` characters. */
function trimEnd(line: string, maxLength: number): string {
  return (line.endsWith("\r") ? line.slice(0, -1) : line).slice(0, maxLength);
}
