// Each language runtime in its own image, end to end: the examples under examples/ deployed and
// invoked through the gateway, and every error format a caller can get from a handler.

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { EmbeddedRedis } from "../../gateway/redis/embedded-redis.js";
import { deploy, invoke, startTestHearth, startTestRedis, type TestHearth } from "../support/hearth.js";
import { filesOf } from "../support/packages.js";

let redis: EmbeddedRedis;
let h: TestHearth;

beforeAll(async () => {
  redis = await startTestRedis();
  h = await startTestHearth(redis.url);
});

afterAll(async () => {
  await h?.stop();
  await redis?.stop();
});

async function deployed(name: string, config: object, files: Record<string, string>): Promise<void> {
  const response = await deploy(h.url, name, config, files);
  expect(response.status, await response.clone().text()).toBe(201);
}

describe("Python runtime", () => {
  it("runs examples/python/hello with Lambda's context", async () => {
    await deployed("py-hello", { runtime: "python", handler: "handler.handler" }, await filesOf("examples/python/hello"));
    const result = await invoke(h.url, "py-hello", { name: "Hearth" });
    expect(result.status).toBe(200);
    expect(result.body).toMatchObject({ greeting: "Hello, Hearth!", requestId: result.headers.get("x-call-id") });
    expect(result.body.remainingMs).toBeGreaterThan(0);
  });

  it("answers an exception with 502, X-Function-Error and {errorMessage, errorType, stackTrace}", async () => {
    await deployed("py-raise", { runtime: "python", handler: "app.handler" }, { "app.py": "def handler(event, context):\n    raise ValueError('bad value: %s' % event['v'])\n" });
    const result = await invoke(h.url, "py-raise", { v: 7 });
    expect(result.status).toBe(502);
    expect(result.headers.get("x-function-error")).toBe("true");
    expect(result.body).toMatchObject({ errorType: "ValueError", errorMessage: "bad value: 7" });
    expect(result.body.stackTrace.join("\n")).toContain("app.py");
  });

  it("reports a module that fails to import, not a silent hang", async () => {
    await deployed("py-broken", { runtime: "python", handler: "app.handler" }, { "app.py": "import no_such_library\n\ndef handler(event, context):\n    return 1\n" });
    const result = await invoke(h.url, "py-broken");
    expect(result.status).toBe(502);
    expect(result.body).toMatchObject({ errorType: "Runtime.ImportModuleError", errorMessage: expect.stringContaining("no_such_library") });
  });
});
