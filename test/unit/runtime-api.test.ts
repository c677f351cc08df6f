// The adapter's runtime APIs (Lambda and Function Compute) over real HTTP on loopback, driven as a
// runtime client would.

import http from "node:http";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { MAX_RESPONSE_BYTES, RuntimeApi, type RuntimeFunction } from "../../gateway/adapter/runtime-api.js";

const fn: RuntimeFunction = { name: "f", version: 3, handler: "index.handler", memoryMb: 128, timeoutSeconds: 5, region: "local", arn: "arn:aws:lambda:local:000000000000:function:f" };

let api: RuntimeApi;
let port: number;

beforeEach(async () => {
  api = new RuntimeApi(fn);
  port = await api.listen();
});
afterEach(() => api.close());

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

function request(method: string, path: string, body?: Buffer | string, headers: Record<string, string> = {}, chunked = false): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: "127.0.0.1", port, method, path, headers }, (res) => {
      let text = "";
      res.on("data", (chunk: Buffer) => (text += chunk.toString()));
      res.on("end", () => resolve({ status: res.statusCode!, headers: res.headers, body: text }));
    });
    req.on("error", reject);
    if (chunked && body !== undefined) {
      // Several writes without a Content-Length: Node sends Transfer-Encoding: chunked.
      const half = Math.floor(body.length / 2);
      req.write(body.slice(0, half));
      req.end(body.slice(half));
    } else {
      req.end(body);
    }
  });
}

const invocation = (id: string) => ({ id, payload: Buffer.from(`{"n":"${id}"}`), deadlineMs: Date.now() + 5000, retryCount: 0 });

const apis = [
  { name: "Lambda Runtime API", prefix: "/2018-06-01/runtime", accepted: 202, idHeader: "lambda-runtime-aws-request-id" },
  { name: "Function Compute runtime API", prefix: "/2020-11-11/runtime", accepted: 200, idHeader: "x-fc-request-id" },
];

describe.each(apis)("$name", ({ prefix, accepted, idHeader }) => {
  const next = (): Promise<Reply> => request("GET", `${prefix}/invocation/next`);

  it("holds /next until there is work, then hands over the event with the request id", async () => {
    const ready = api.waitReady();
    const pending = next();
    expect(await ready).toEqual({ ready: true });
    const outcome = api.invoke(invocation("req-1"));
    const event = await pending;
    expect(event.status).toBe(200);
    expect(JSON.parse(event.body)).toEqual({ n: "req-1" });
    expect(event.headers[idHeader]).toBe("req-1");
    const posted = await request("POST", `${prefix}/invocation/req-1/response`, '"done"');
    expect(posted).toMatchObject({ status: accepted, body: '{"status":"OK"}' });
    expect(await outcome).toEqual({ kind: "response", body: Buffer.from('"done"') });
  });

  it("takes an error with its error type, and a chunked POST", async () => {
    const outcome = api.invoke(invocation("req-2"));
    await next();
    const body = JSON.stringify({ errorMessage: "bad", errorType: "Oops", stackTrace: [] });
    const posted = await request("POST", `${prefix}/invocation/req-2/error`, body, { "Lambda-Runtime-Function-Error-Type": "Oops" }, true);
    expect(posted.status).toBe(accepted);
    expect(await outcome).toEqual({ kind: "error", body: Buffer.from(body), errorType: "Oops" });
  });

  it("answers 400 for an unknown request id and 403 for one already answered", async () => {
    const outcome = api.invoke(invocation("req-3"));
    await next();
    expect((await request("POST", `${prefix}/invocation/nope/response`, "1")).status).toBe(400);
    expect((await request("POST", `${prefix}/invocation/%E0%A4%A/response`, "1")).status).toBe(400);
    expect((await request("POST", `${prefix}/invocation/req-3/response`, "1")).status).toBe(accepted);
    await outcome;
    expect((await request("POST", `${prefix}/invocation/req-3/response`, "2")).status).toBe(403);
  });

  it("holds a second /next made while an invocation runs until the next invocation", async () => {
    const first = api.invoke(invocation("req-5"));
    await next();
    let secondArrived = false;
    const second = next().then((reply) => {
      secondArrived = true;
      return reply;
    });
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(secondArrived).toBe(false);
    await request("POST", `${prefix}/invocation/req-5/response`, "1");
    await first;
    void api.invoke(invocation("req-6"));
    expect((await second).headers[idHeader]).toBe("req-6");
  });

  it("reports an init error to whoever waits for the runtime to be ready", async () => {
    const body = JSON.stringify({ errorMessage: "cannot load", errorType: "Runtime.ImportModuleError" });
    expect((await request("POST", `${prefix}/init/error`, body)).status).toBe(accepted);
    const readiness = await api.waitReady();
    expect(readiness.ready).toBe(false);
    expect(readiness.ready === false && readiness.error.toString()).toBe(body);
  });
});

describe("API specifics", () => {
  it("Lambda: request id, deadline, function ARN and trace id", async () => {
    const outcome = api.invoke(invocation("req-7"));
    const event = await request("GET", "/2018-06-01/runtime/invocation/next");
    expect(event.headers["lambda-runtime-aws-request-id"]).toBe("req-7");
    expect(Number(event.headers["lambda-runtime-deadline-ms"])).toBeGreaterThan(Date.now());
    expect(event.headers["lambda-runtime-invoked-function-arn"]).toBe(fn.arn);
    expect(event.headers["lambda-runtime-trace-id"]).toMatch(/^Root=1-/);
    await request("POST", "/2018-06-01/runtime/invocation/req-7/response", "null");
    await outcome;
  });

  it("Function Compute: request id, deadline and timeout (without which its client never answers), function facts", async () => {
    const outcome = api.invoke({ ...invocation("req-8"), retryCount: 2 });
    const event = await request("GET", "/2020-11-11/runtime/invocation/next");
    expect(event.headers).toMatchObject({
      "x-fc-request-id": "req-8",
      "x-fc-function-timeout": "5",
      "x-fc-function-name": "f",
      "x-fc-function-handler": "index.handler",
      "x-fc-function-memory": "128",
      "x-fc-region": "local",
      "x-fc-retry-count": "2",
    });
    expect(Number(event.headers["x-fc-function-deadline"])).toBeGreaterThan(Date.now());
    await request("POST", "/2020-11-11/runtime/invocation/req-8/response", "null");
    await outcome;
  });

  it("answers 413 to a response over 6 MiB and fails the invocation", async () => {
    const outcome = api.invoke(invocation("req-4"));
    await request("GET", "/2018-06-01/runtime/invocation/next");
    const posted = await request("POST", "/2018-06-01/runtime/invocation/req-4/response", Buffer.alloc(MAX_RESPONSE_BYTES + 1, 0x61));
    expect(posted.status).toBe(413);
    expect(await outcome).toMatchObject({ kind: "response-too-large" });
  });

  it("answers 404 for paths of neither API", async () => {
    expect((await request("GET", "/2019-01-01/runtime/invocation/next")).status).toBe(404);
    expect((await request("GET", "/2018-06-01/runtime/invocation/later")).status).toBe(404);
  });
});
