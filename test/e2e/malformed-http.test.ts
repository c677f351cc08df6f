// Requests that are not well-formed HTTP, sent byte by byte over a socket to a real Hearth: every
// answer is JSON {errorMessage, errorType} with the right status, and the process serves on.

import net from "node:net";
import { describe, expect, it } from "vitest";
import { adminHeaders, useTestHearth } from "../support/hearth.js";

const h = useTestHearth();

interface RawAnswer {
  status: number;
  headers: string;
  body: any;
}

/** Sends `request` as it is and reads the answer until the server closes the connection. */
async function sendRaw(request: string): Promise<RawAnswer> {
  const socket = net.connect(Number(new URL(h.url).port), "127.0.0.1");
  const chunks: Buffer[] = [];
  socket.on("data", (chunk: Buffer) => chunks.push(chunk));
  await new Promise((resolve) => socket.once("connect", resolve));
  socket.write(request);
  await new Promise<void>((resolve, reject) => {
    socket.once("close", () => resolve());
    socket.once("error", reject);
    setTimeout(() => reject(new Error("the server did not close the connection")), 10_000);
  });
  const text = Buffer.concat(chunks).toString("utf8");
  const [head = "", body = ""] = text.split("\r\n\r\n", 2);
  return { status: Number(head.split(" ")[1]), headers: head, body: JSON.parse(body) };
}

describe("malformed HTTP", () => {
  it("answers headers over Node's limit 431 with a JSON body, closing the connection", async () => {
    const answer = await sendRaw(`GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${"a".repeat(20_000)}\r\n\r\n`);
    expect(answer).toMatchObject({ status: 431, body: { errorType: "RequestHeaderFieldsTooLarge", errorMessage: expect.stringContaining("16384 bytes") } });
    expect(answer.headers).toMatch(/^Connection: close$/im);
    expect(answer.headers).toMatch(/^Content-Type: application\/json/im);
  });

  it.each([
    ["a request line that is not HTTP", "HELLO THERE\r\n\r\n"],
    ["a Content-Length that is not a number", "POST /function/f HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n"],
    ["both Content-Length and Transfer-Encoding", "POST /function/f HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"],
    ["a header value with a control character", "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Bad: a\u0001b\r\n\r\n"],
    ["a malformed chunk size", "POST /function/f HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n"],
  ])("answers %s 400 with a JSON body", async (_what, request) => {
    const answer = await sendRaw(request);
    expect(answer).toMatchObject({ status: 400, body: { errorType: "MalformedRequest", errorMessage: expect.stringContaining("malformed HTTP request") } });
    expect(answer.headers).toMatch(/^Connection: close$/im);
  });

  // Found by the fuzz suite: Node answered these itself, with an empty body or none at all.
  it.each([
    ["an HTTP/1.1 request without Host", "GET /healthz HTTP/1.1\r\n\r\n", 400, "MalformedRequest", "needs a Host header"],
    ["an Expect other than 100-continue", "GET /healthz HTTP/1.1\r\nHost: x\r\nExpect: 200-ok\r\n\r\n", 417, "ExpectationFailed", "200-ok"],
    ["a CONNECT (the connection used to be closed without a word)", "CONNECT 127.0.0.1:6379 HTTP/1.1\r\nHost: 127.0.0.1:6379\r\n\r\n", 405, "MethodNotAllowed", "not a proxy"],
  ])("answers %s with a JSON error, closing the connection", async (_what, request, status, errorType, message) => {
    const answer = await sendRaw(request);
    expect(answer).toMatchObject({ status, body: { errorType, errorMessage: expect.stringContaining(message) } });
    expect(answer.headers).toMatch(/^Connection: close$/im);
    expect(answer.headers).toMatch(/^Content-Type: application\/json/im);
  });

  it("answers what express rejects as JSON too: a path that is not percent-decodable, a body that is not JSON", async () => {
    const path = await fetch(`${h.url}/function/%E0%A4%A`, { method: "POST", headers: adminHeaders, body: "{}" });
    expect(path.status).toBe(400);
    expect(await path.json()).toMatchObject({ errorType: "InvalidRequest", errorMessage: expect.any(String) });
    const json = await fetch(`${h.url}/system/functions/f`, { method: "PUT", headers: { ...adminHeaders, "content-type": "application/json" }, body: "{nope" });
    expect(json.status).toBe(400);
    expect(await json.json()).toMatchObject({ errorType: "InvalidRequestContent" });
  });

  it("keeps serving after all of them", async () => {
    expect((await fetch(`${h.url}/healthz`)).status).toBe(200);
  });
});
