// runtime "custom": the package's executable bootstrap is the runtime, a client of the Lambda runtime
// API (as Lambda's provided runtimes). The bootstrap here knows only the published API.

import { readFile } from "node:fs/promises";
import { describe, expect, it } from "vitest";
import { deployPackage, invoke, useTestHearth } from "../support/hearth.js";
import { tarGz, zip } from "../support/packages.js";

const h = useTestHearth();

const bootstrap = readFile("test/support/runtime-clients/custom_bootstrap.js");

async function deployCustom(name: string, config: object = {}, code?: Buffer): Promise<Response> {
  return deployPackage(h.url, name, { runtime: "custom", ...config }, code ?? (await tarGz({ bootstrap: await bootstrap }, { bootstrap: 0o755 })));
}

describe("custom runtimes", () => {
  it("runs the package's bootstrap, which serves invocations through the Lambda runtime API", async () => {
    expect((await deployCustom("custom-echo", { handler: "my.handler" })).status).toBe(201);
    for (const n of [1, 2]) {
      const result = await invoke(h.url, "custom-echo", { n });
      expect(result.status).toBe(200);
      expect(result.body).toMatchObject({ handler: "my.handler", requestId: result.headers.get("x-call-id"), event: { n } });
      expect(result.body.deadline).toBeGreaterThan(Date.now());
    }
  });

  it("answers its errors as it posted them, wrapping only what is not a JSON object", async () => {
    // A zip with Unix modes works as well as a tar.gz.
    expect((await deployCustom("custom-errors", {}, await zip({ bootstrap: await bootstrap }, { bootstrap: 0o100755 }))).status).toBe(201);
    const failed = await invoke(h.url, "custom-errors", { fail: "no luck" });
    expect(failed.status).toBe(502);
    expect(failed.text).toBe('{"errorType":"Custom.Failure","errorMessage":"no luck","detail":{"attempt":1}}');
    expect(failed.headers.get("x-amz-function-error")).toBe("Custom.Failure");
    const raw = await invoke(h.url, "custom-errors", { fail: "plain words", raw: true });
    expect(raw.status).toBe(502);
    expect(raw.body).toEqual({ errorMessage: "plain words", errorType: "Custom.Raw", stackTrace: [] });
  });

  it("answers the first invocation with the init error the bootstrap reported", async () => {
    expect((await deployCustom("custom-init-error", { environment: { FAIL_INIT: "no database" } })).status).toBe(201);
    const result = await invoke(h.url, "custom-init-error");
    expect(result.status).toBe(502);
    expect(result.body).toMatchObject({ errorType: "Custom.InitFailed", errorMessage: "cannot start: no database" });
  });

  it("refuses at deploy a package without an executable bootstrap, saying why", async () => {
    const missing = await deployCustom("custom-missing", {}, await tarGz({ "main.js": await bootstrap }, { "main.js": 0o755 }));
    expect(missing.status).toBe(400);
    expect(await missing.json()).toMatchObject({ errorType: "BootstrapNotFound", errorMessage: expect.stringContaining("main.js") });
    const notExecutable = await deployCustom("custom-not-executable", {}, await tarGz({ bootstrap: await bootstrap }));
    expect(notExecutable.status).toBe(400);
    expect(await notExecutable.json()).toMatchObject({ errorType: "BootstrapNotExecutable", errorMessage: expect.stringContaining("0755") });
  });
});
