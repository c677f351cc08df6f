// The HTTP trigger formats as plain functions: what a function receives and what a caller gets back.

import { describe, expect, it } from "vitest";
import { HearthError } from "../../gateway/errors.js";
import { jsonEvent, proxyEvent, proxyResponse, rawResponse, type HttpRequest } from "../../gateway/invocation/http-events.js";

const request = (overrides: Partial<HttpRequest> = {}): HttpRequest => ({
  method: "POST",
  path: "/users/42",
  query: "",
  headers: { host: "127.0.0.1:8080", "user-agent": "curl/8" },
  body: Buffer.alloc(0),
  sourceIp: "127.0.0.1",
  ...overrides,
});

const parse = (buffer: Buffer): Record<string, any> => JSON.parse(buffer.toString()) as Record<string, any>;

function errorOf(run: () => unknown): HearthError {
  try {
    run();
  } catch (error) {
    if (error instanceof HearthError) return error;
    throw error;
  }
  throw new Error("expected a HearthError");
}

describe("JSON event", () => {
  it("passes JSON as it is, an empty body as {}, and refuses anything else with 400", () => {
    expect(jsonEvent(Buffer.from('{"a":1}')).toString()).toBe('{"a":1}');
    expect(jsonEvent(Buffer.alloc(0)).toString()).toBe("{}");
    expect(errorOf(() => jsonEvent(Buffer.from("{nope")))).toMatchObject({ status: 400, errorType: "InvalidRequestContent" });
  });
});

describe("raw integration result", () => {
  it("sends a JSON string as its text, other JSON as JSON, and bytes that are not JSON as they are", () => {
    expect(rawResponse(Buffer.from('"hello, \\"you\\"\\n"'))).toEqual({ contentType: "text/plain; charset=utf-8", body: Buffer.from('hello, "you"\n') });
    expect(rawResponse(Buffer.from('{"a":1}'))).toEqual({ contentType: "application/json", body: Buffer.from('{"a":1}') });
    expect(rawResponse(Buffer.from([0xff, 0x00, 0x01]))).toEqual({ contentType: "application/octet-stream", body: Buffer.from([0xff, 0x00, 0x01]) });
    expect(rawResponse(Buffer.from('"unterminated'))).toEqual({ contentType: "application/octet-stream", body: Buffer.from('"unterminated') });
  });
});

describe("HTTP-proxy event", () => {
  it("carries method, path, query, lower-case headers, cookies and a text body (API Gateway 2.0 shape)", () => {
    const event = parse(
      proxyEvent(
        request({
          query: "a=1&b=2&a=3",
          headers: { host: "h", "Content-Type": "application/json", cookie: "s=1; t=2", "X-Many": ["x", "y"] },
          body: Buffer.from('{"hi":true}'),
        }),
        new Date(Date.UTC(2026, 10, 21, 5, 4, 3)),
      ),
    );
    expect(event).toMatchObject({
      version: "2.0",
      routeKey: "$default",
      rawPath: "/users/42",
      rawQueryString: "a=1&b=2&a=3",
      cookies: ["s=1", "t=2"],
      headers: { host: "h", "content-type": "application/json", "x-many": "x,y" },
      queryStringParameters: { a: "1,3", b: "2" },
      requestContext: { http: { method: "POST", path: "/users/42", sourceIp: "127.0.0.1" }, time: "21/Nov/2026:05:04:03 +0000", timeEpoch: Date.UTC(2026, 10, 21, 5, 4, 3) },
      body: '{"hi":true}',
      isBase64Encoded: false,
    });
    expect(event.headers.cookie).toBeUndefined();
    expect(event.requestContext.requestId).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("base64-encodes a binary body and leaves out body, cookies and query parameters when there are none", () => {
    const binary = parse(proxyEvent(request({ headers: { "content-type": "image/png" }, body: Buffer.from([0x89, 0x50, 0x00]) })));
    expect(binary).toMatchObject({ body: Buffer.from([0x89, 0x50, 0x00]).toString("base64"), isBase64Encoded: true });
    const empty = parse(proxyEvent(request({ method: "GET" })));
    expect(empty).not.toHaveProperty("body");
    expect(empty).not.toHaveProperty("cookies");
    expect(empty).not.toHaveProperty("queryStringParameters");
    expect(empty.isBase64Encoded).toBe(false);
  });
});

describe("HTTP-proxy result", () => {
  it("maps statusCode, headers, cookies and a base64 body onto the response", () => {
    const response = proxyResponse(
      Buffer.from(JSON.stringify({ statusCode: 201, headers: { "Content-Type": "image/gif", "X-Count": 3, "Content-Length": "999" }, cookies: ["a=1; Path=/"], body: Buffer.from("GIF89a").toString("base64"), isBase64Encoded: true })),
    );
    expect(response).toEqual({ status: 201, headers: { "content-type": "image/gif", "x-count": "3" }, cookies: ["a=1; Path=/"], body: Buffer.from("GIF89a") });
  });

  it("sends a result without statusCode as the JSON body of a 200", () => {
    expect(proxyResponse(Buffer.from('{"ok":true}'))).toEqual({ status: 200, headers: { "content-type": "application/json" }, cookies: [], body: Buffer.from('{"ok":true}') });
    expect(proxyResponse(Buffer.from('"just text"')).body.toString()).toBe('"just text"');
  });

  it("answers 502 Hearth.MalformedProxyResponse, saying what is wrong, for a malformed result", () => {
    const cases: [unknown, string][] = [
      [{ statusCode: "200" }, "statusCode"],
      [{ statusCode: 99 }, "statusCode"],
      [{ statusCode: 200, headers: ["x"] }, "headers"],
      [{ statusCode: 200, headers: { "bad header": "x" } }, "header name"],
      [{ statusCode: 200, headers: { "x-a": "1\r\nInjected: yes" } }, "line break"],
      [{ statusCode: 200, headers: { "x-a": { nested: true } } }, "x-a"],
      [{ statusCode: 200, cookies: "a=1" }, "cookies"],
      [{ statusCode: 200, body: { not: "a string" } }, "body"],
      [{ statusCode: 200, isBase64Encoded: "yes" }, "isBase64Encoded"],
    ];
    for (const [result, problem] of cases) {
      const error = errorOf(() => proxyResponse(Buffer.from(JSON.stringify(result))));
      expect(error).toMatchObject({ status: 502, errorType: "Hearth.MalformedProxyResponse" });
      expect(error.message).toContain(problem);
    }
    expect(errorOf(() => proxyResponse(Buffer.from([0xff])))).toMatchObject({ status: 502, errorType: "Hearth.MalformedProxyResponse" });
  });
});
