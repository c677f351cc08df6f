// The admin API on a real Hearth: create, update, read, list and delete functions, and the clear
// errors for every kind of bad deploy.

import { describe, expect, it } from "vitest";
import { functionKeys } from "../../gateway/protocol/keys.js";
import { probeHandler } from "../support/functions.js";
import { adminHeaders, deploy, deployPackage, invoke, useTestHearth } from "../support/hearth.js";
import { tarGz, zip } from "../support/packages.js";

const h = useTestHearth({ maxCodeBytes: 64 * 1024 });

const handler = { "index.js": probeHandler() };

async function errorOf(response: Response): Promise<{ status: number; errorType: string; errorMessage: string }> {
  return { status: response.status, ...((await response.json()) as { errorType: string; errorMessage: string }) };
}

describe("functions admin API", () => {
  it("deploys a zip package with all settings and invokes it", async () => {
    const config = { runtime: "node", handler: "lib/main.run", environment: { GREETING: "hi" }, timeout: 5, memory: 128, maxContainers: 3, keepAlive: 30 };
    const code = await zip({ "lib/main.js": "exports.run = async () => ({ greeting: process.env.GREETING, memory: process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE });" });
    const response = await deployPackage(h.url, "zipped", config, code);
    expect(response.status).toBe(201);
    // Environment values are write-only: the answer names the variables.
    expect(await response.json()).toMatchObject({ ...config, environment: ["GREETING"], name: "zipped", version: 1, codeSize: code.length });
    const result = await invoke(h.url, "zipped");
    expect(result).toMatchObject({ status: 200, body: { greeting: "hi", memory: "128" } });
  });

  it("stores code content-addressed and drops the old package on a redeploy", async () => {
    const first = (await (await deploy(h.url, "addressed", { runtime: "node" }, handler)).json()) as { codeSha256: string };
    expect(await h.client.exists(functionKeys("addressed").code(first.codeSha256))).toBe(1);
    const second = (await (await deploy(h.url, "addressed", { runtime: "node" }, { "index.js": probeHandler("v2") })).json()) as { codeSha256: string; version: number };
    expect(second.version).toBe(2);
    expect(second.codeSha256).not.toBe(first.codeSha256);
    expect(await h.client.exists(functionKeys("addressed").code(first.codeSha256))).toBe(0);
    expect(await h.client.exists(functionKeys("addressed").code(second.codeSha256))).toBe(1);
  });

  it("updates settings alone with a JSON body, keeping the code", async () => {
    const created = (await (await deploy(h.url, "settings", { runtime: "node" }, handler)).json()) as { codeSha256: string };
    const updated = await deploy(h.url, "settings", { runtime: "node", environment: { MODE: "b" } });
    expect(updated.status).toBe(200);
    expect(await updated.json()).toMatchObject({ version: 2, codeSha256: created.codeSha256, environment: ["MODE"] });
    // A new handler is checked against the stored package.
    expect(await errorOf(await deploy(h.url, "settings", { runtime: "node", handler: "missing.handler" }))).toMatchObject({ status: 400, errorType: "HandlerModuleNotFound" });
  });

  it("gets, lists and deletes functions", async () => {
    await deploy(h.url, "listed", { runtime: "node" }, handler);
    const got = await fetch(`${h.url}/system/functions/listed`, { headers: adminHeaders });
    expect(await got.json()).toMatchObject({ name: "listed", queued: 0, containers: { starting: 0, idle: 0, busy: 0 } });
    const list = (await (await fetch(`${h.url}/system/functions`, { headers: adminHeaders })).json()) as { functions: { name: string }[] };
    expect(list.functions.map((f) => f.name)).toContain("listed");

    expect((await fetch(`${h.url}/system/functions/listed`, { headers: adminHeaders, method: "DELETE" })).status).toBe(204);
    expect(await errorOf(await fetch(`${h.url}/system/functions/listed`, { headers: adminHeaders }))).toMatchObject({ status: 404, errorType: "FunctionNotFound" });
    expect(await errorOf(await fetch(`${h.url}/system/functions/listed`, { headers: adminHeaders, method: "DELETE" }))).toMatchObject({ status: 404 });
    expect((await invoke(h.url, "listed")).status).toBe(404);
  });

  it("rejects bad deploys with clear 4xx errors", async () => {
    expect(await errorOf(await deploy(h.url, "Bad_Name", { runtime: "node" }, handler))).toMatchObject({ status: 400, errorType: "InvalidFunctionName" });
    expect(await errorOf(await deploy(h.url, "cobol", { runtime: "cobol" }, handler))).toMatchObject({ status: 400, errorType: "InvalidFunctionConfig" });
    expect(await errorOf(await deploy(h.url, "typo", { runtime: "node", timout: 3 }, handler))).toMatchObject({ status: 400, errorType: "InvalidFunctionConfig" });
    expect(await errorOf(await deploy(h.url, "reserved", { runtime: "node", environment: { AWS_REGION: "x" } }, handler))).toMatchObject({ status: 400, errorType: "InvalidFunctionConfig" });
    expect(await errorOf(await deploy(h.url, "codeless", { runtime: "node" }))).toMatchObject({ status: 400, errorType: "CodeRequired" });
    expect(await errorOf(await deployPackage(h.url, "garbage", { runtime: "node" }, Buffer.from("not an archive")))).toMatchObject({ status: 400, errorType: "InvalidCodePackage" });
    expect(await errorOf(await deploy(h.url, "nested", { runtime: "node" }, { "src/index.js": "exports.handler = () => 1" }))).toMatchObject({
      status: 400,
      errorType: "HandlerModuleNotFound",
      errorMessage: expect.stringContaining("src/index.js"),
    });
    const bulky = await tarGz({ "index.js": "exports.handler = () => 1;", "data.bin": Array.from({ length: 20_000 }, (_, i) => (i * 7919).toString(36)).join("") });
    expect(await errorOf(await deployPackage(h.url, "bulky", { runtime: "node" }, Buffer.concat([bulky, Buffer.alloc(64 * 1024)])))).toMatchObject({ status: 413, errorType: "CodePackageTooLarge" });
    const malformed = await fetch(`${h.url}/system/functions/broken`, { method: "PUT", headers: { ...adminHeaders, "content-type": "application/json" }, body: "{oops" });
    expect(await errorOf(malformed)).toMatchObject({ status: 400, errorType: "InvalidRequestContent" });
    // None of these left a function behind.
    const list = (await (await fetch(`${h.url}/system/functions`, { headers: adminHeaders })).json()) as { functions: { name: string }[] };
    expect(list.functions.map((f) => f.name)).not.toContain("bulky");
  });

  it("answers a function whose module fails to load with its init error", async () => {
    await deploy(h.url, "broken-import", { runtime: "node" }, { "index.js": "require('left-pad'); exports.handler = async () => 1;" });
    const result = await invoke(h.url, "broken-import");
    expect(result.status).toBe(502);
    expect(result.body).toMatchObject({ errorType: "Runtime.ImportModuleError", errorMessage: expect.stringContaining("left-pad") });

    await deploy(h.url, "no-export", { runtime: "node" }, { "index.js": "exports.other = async () => 1;" });
    expect((await invoke(h.url, "no-export")).body).toMatchObject({ errorType: "Runtime.HandlerNotFound" });
  });
});
