// The HTTP trigger formats end to end: JSON events, raw bodies (?integration=raw) and HTTP-proxy
// events on /http/:name, through a real gateway, Redis and a Node function in Docker.

import { beforeAll, describe, expect, it } from "vitest";
import { adminHeaders, deploy, useTestHearth } from "../support/hearth.js";

const h = useTestHearth();

const rawHandler = `
exports.handler = async (event, context) => {
  if (typeof event === "string") return "got " + event.length + " chars: " + event + " (" + context.awsRequestId + ")";
  return { parsed: event };
};`;

const proxyHandler = `
exports.handler = async (event) => {
  switch (event.rawPath) {
    case "/plain": return { hello: "world" };
    case "/malformed": return { statusCode: "teapot" };
    case "/fail": throw new RangeError("no such page");
    case "/binary": return { statusCode: 200, headers: { "content-type": "application/octet-stream" }, body: Buffer.from([0, 1, 2, 255]).toString("base64"), isBase64Encoded: true };
  }
  return {
    statusCode: 201,
    headers: { "content-type": "application/json", "x-raw-path": event.rawPath },
    cookies: ["session=abc; Path=/", "theme=dark"],
    body: JSON.stringify({ method: event.requestContext.http.method, query: event.queryStringParameters, headers: event.headers, cookies: event.cookies, body: event.body, isBase64Encoded: event.isBase64Encoded }),
  };
};`;

beforeAll(async () => {
  expect((await deploy(h.url, "raw", { runtime: "node" }, { "index.js": rawHandler })).status).toBe(201);
  expect((await deploy(h.url, "site", { runtime: "node" }, { "index.js": proxyHandler })).status).toBe(201);
});

describe("HTTP triggers", () => {
  it("?integration=raw passes the body as it is and returns a string result as the body, with the request id as X-Call-Id", async () => {
    const response = await fetch(`${h.url}/function/raw?integration=raw`, { method: "POST", headers: { ...adminHeaders, "content-type": "text/plain" }, body: "not json at all" });
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toMatch(/^text\/plain/);
    const callId = response.headers.get("x-call-id");
    // Sync request ids name their function, like async invocation ids.
    expect(callId).toMatch(/^raw\.[0-9a-f-]{36}$/);
    expect(await response.text()).toBe(`got 15 chars: not json at all (${callId})`);
  });

  it("without integration=raw the body must be JSON (400 otherwise), and an object result comes back as JSON", async () => {
    const refused = await fetch(`${h.url}/function/raw`, { headers: adminHeaders, method: "POST", body: "not json at all" });
    expect(refused.status).toBe(400);
    expect(await refused.json()).toMatchObject({ errorType: "InvalidRequestContent" });

    const response = await fetch(`${h.url}/function/raw`, { headers: adminHeaders, method: "POST", body: '{"a":[1,2]}' });
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toMatch(/^application\/json/);
    expect(await response.json()).toEqual({ parsed: { a: [1, 2] } });

    const unknown = await fetch(`${h.url}/function/raw?integration=soap`, { headers: adminHeaders, method: "POST", body: "{}" });
    expect(unknown.status).toBe(400);
  });

  it("an HTTP-proxy route takes any method and sub-path, and maps statusCode, headers, cookies and body back", async () => {
    const response = await fetch(`${h.url}/http/site/users/42?tag=a&tag=b&q=x`, {
      method: "PUT",
      headers: { ...adminHeaders, "content-type": "application/json", cookie: "c1=v1; c2=v2", "X-Custom": "yes" },
      body: '{"name":"Ada"}',
    });
    expect(response.status).toBe(201);
    expect(response.headers.get("x-raw-path")).toBe("/users/42");
    expect(response.headers.getSetCookie()).toEqual(["session=abc; Path=/", "theme=dark"]);
    expect(response.headers.get("x-call-id")).toMatch(/^site\.[0-9a-f-]{36}$/);
    const event = (await response.json()) as { headers: Record<string, string> };
    expect(event).toMatchObject({
      method: "PUT",
      query: { tag: "a,b", q: "x" },
      headers: { "x-custom": "yes", "content-type": "application/json" },
      cookies: ["c1=v1", "c2=v2"],
      body: '{"name":"Ada"}',
      isBase64Encoded: false,
    });
    // The caller's Hearth key is Hearth's business: the function's code never sees it.
    expect(event.headers.authorization).toBeUndefined();

    const root = await fetch(`${h.url}/http/site`, { headers: adminHeaders, method: "DELETE" });
    expect(root.status).toBe(201);
    expect(root.headers.get("x-raw-path")).toBe("/");
  });

  it("sends binary request bodies base64-encoded and decodes a base64 result body", async () => {
    const upload = await fetch(`${h.url}/http/site/upload`, { method: "POST", headers: { ...adminHeaders, "content-type": "application/octet-stream" }, body: new Uint8Array([0xff, 0xfe, 0x00]) });
    expect(await upload.json()).toMatchObject({ body: Buffer.from([0xff, 0xfe, 0x00]).toString("base64"), isBase64Encoded: true });

    const binary = await fetch(`${h.url}/http/site/binary`, { headers: adminHeaders });
    expect(binary.status).toBe(200);
    expect(Buffer.from(await binary.arrayBuffer())).toEqual(Buffer.from([0, 1, 2, 255]));
  });

  it("sends a result without statusCode as JSON with 200, a malformed one as 502, a function error as 502 with X-Function-Error", async () => {
    const plain = await fetch(`${h.url}/http/site/plain`, { headers: adminHeaders });
    expect(plain.status).toBe(200);
    expect(plain.headers.get("content-type")).toMatch(/^application\/json/);
    expect(await plain.json()).toEqual({ hello: "world" });

    const malformed = await fetch(`${h.url}/http/site/malformed`, { headers: adminHeaders });
    expect(malformed.status).toBe(502);
    expect(await malformed.json()).toMatchObject({ errorType: "Hearth.MalformedProxyResponse", errorMessage: expect.stringContaining("statusCode") });

    const failed = await fetch(`${h.url}/http/site/fail`, { headers: adminHeaders });
    expect(failed.status).toBe(502);
    expect(failed.headers.get("x-function-error")).toBe("true");
    expect(await failed.json()).toMatchObject({ errorType: "RangeError", errorMessage: "no such page" });

    const missing = await fetch(`${h.url}/http/nobody/here`, { headers: adminHeaders });
    expect(missing.status).toBe(404);
    expect(await missing.json()).toMatchObject({ errorType: "FunctionNotFound" });
  });
});
