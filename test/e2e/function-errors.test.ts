// A function's error reaches its caller as the runtime posted it, with Hearth's, Lambda's and Function
// Compute's error headers.

import { describe, expect, it } from "vitest";
import { deploy, invoke, useTestHearth } from "../support/hearth.js";
import type { Files } from "../support/packages.js";

const h = useTestHearth();

async function deployed(name: string, config: object, files: Files): Promise<void> {
  const response = await deploy(h.url, name, config, files);
  expect(response.status, await response.clone().text()).toBeLessThan(300);
}

function expectErrorHeaders(headers: Headers, errorType: string): void {
  expect(headers.get("x-function-error")).toBe("true");
  expect(headers.get("x-amz-function-error")).toBe(errorType);
  expect(headers.get("x-fc-error-type")).toBe(errorType);
}

describe("function errors as the runtime sent them", () => {
  it("Node: Lambda's {errorType, errorMessage, trace}, byte for byte", async () => {
    await deployed("node-err", { runtime: "node" }, {
      "index.js": 'exports.handler = async () => { const e = new RangeError("out of range"); e.stack = "RangeError: out of range\\n    at handler (index.js:1:1)"; throw e; };',
    });
    const result = await invoke(h.url, "node-err");
    expect(result.status).toBe(502);
    expect(result.text).toBe('{"errorType":"RangeError","errorMessage":"out of range","trace":["RangeError: out of range","    at handler (index.js:1:1)"]}');
    expectErrorHeaders(result.headers, "RangeError");
  });

  it("Python: {errorMessage, errorType, requestId, stackTrace} as json.dumps wrote it", async () => {
    await deployed("py-err", { runtime: "python", handler: "app.handler" }, { "app.py": "class Oops(Exception):\n    pass\n\ndef handler(event, context):\n    raise Oops('bad')\n" });
    const result = await invoke(h.url, "py-err");
    expect(result.status).toBe(502);
    const trace = result.body.stackTrace as string[];
    expect(trace.join("")).toMatch(/app\.py", line 5, in handler\n {4}raise Oops\('bad'\)/);
    const id = result.headers.get("x-call-id");
    expect(result.text).toBe(`{"errorMessage": "bad", "errorType": "Oops", "requestId": "${id}", "stackTrace": [${trace.map((line) => JSON.stringify(line)).join(", ")}]}`);
    expectErrorHeaders(result.headers, "Oops");
  });

  it("Go: the SDK's bare {errorMessage, errorType}", async () => {
    await deployed("go-err", { runtime: "go" }, { "index.go": 'package main\n\nimport "errors"\n\nfunc Handler() (string, error) {\n\treturn "", errors.New("not so lucky")\n}\n' });
    const result = await invoke(h.url, "go-err");
    expect(result.status).toBe(502);
    expect(result.text).toBe('{"errorMessage":"not so lucky","errorType":"UserCodeError"}');
    expectErrorHeaders(result.headers, "UserCodeError");
  });

  it("Hearth's own errors carry the headers too: a timeout is Sandbox.Timedout", async () => {
    await deployed("node-spin", { runtime: "node", timeout: 1 }, { "index.js": "exports.handler = async () => { for (;;) {} };" });
    const result = await invoke(h.url, "node-spin");
    expect(result.status).toBe(504);
    expect(result.body).toEqual({ errorMessage: "Task timed out after 1.00 seconds", errorType: "Sandbox.Timedout", stackTrace: [] });
    expectErrorHeaders(result.headers, "Sandbox.Timedout");
  });
});
