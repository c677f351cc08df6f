import { describe, expect, it } from "vitest";
import { functionConfigSchema } from "../../gateway/functions/config-schema.js";
import { FUNCTION_NAME, fromHash, toHashFields } from "../../gateway/functions/definition.js";

describe("function definitions", () => {
  it("fills in defaults a user would expect", () => {
    expect(functionConfigSchema.parse({ runtime: "node" })).toEqual({
      runtime: "node",
      handler: "index.handler",
      environment: {},
      timeout: 30,
      memory: 256,
      ephemeralStorage: 512,
      maxContainers: 10,
      keepAlive: 600,
      minWarm: 0,
      maxRetries: 2,
      retryDelay: 1,
      maxQueued: 5000,
      maxQueuedAsync: 100_000,
      auth: "key",
      network: "none",
      initializationTimeout: 3,
      preStopTimeout: 3,
    });
  });

  it("accepts lower-case names with digits and dashes only", () => {
    for (const good of ["a", "hello-world", "f1", "x".repeat(63)]) expect(FUNCTION_NAME.test(good)).toBe(true);
    for (const bad of ["", "Hello", "under_score", "-lead", "trail-", "x".repeat(64), "a.b", "a/b"]) expect(FUNCTION_NAME.test(bad)).toBe(false);
  });

  it("rejects unknown fields, bad handlers, reserved variables and out-of-range limits", () => {
    const invalid = [
      { runtime: "node", timeuot: 3 },
      { runtime: "node", handler: "index" },
      { runtime: "node", environment: { AWS_REGION: "x" } },
      { runtime: "node", environment: { _HANDLER: "x" } },
      { runtime: "node", environment: { "BAD-NAME": "x" } },
      { runtime: "node", memory: 32 },
      { runtime: "node", ephemeralStorage: 511 },
      { runtime: "node", ephemeralStorage: 10241 },
      { runtime: "node", ephemeralStorage: 600.5 },
      { runtime: "node", maxContainers: 0 },
      { runtime: "node", timeout: 0 },
      { runtime: "ruby" },
      { runtime: "node", auth: "public" },
      { runtime: "node", initializer: "initializer" },
      { runtime: "node", preStop: "/abs.preStop" },
      { runtime: "node", initializationTimeout: 301 },
      { runtime: "node", preStopTimeout: 61 },
      {},
    ];
    for (const config of invalid) expect(functionConfigSchema.safeParse(config).success, JSON.stringify(config)).toBe(false);
  });

  it("reads back what it stores", () => {
    const config = functionConfigSchema.parse({ runtime: "node", handler: "src/app.main", environment: { A: "1" }, timeout: 2.5 });
    const fields = toHashFields(config, 99);
    const hash: Record<string, string> = { version: "4", codeSha: "ab", createdAt: "1", updatedAt: "2" };
    for (let i = 0; i < fields.length; i += 2) hash[fields[i]!] = fields[i + 1]!;
    expect(fromHash("fn", hash)).toEqual({ name: "fn", ...config, version: 4, codeSha256: "ab", codeSize: 99, createdAt: 1, updatedAt: 2 });
    expect(fromHash("fn", {})).toBeUndefined();
    const hooked = functionConfigSchema.parse({ runtime: "python", initializer: "app.init", initializationTimeout: 20, preStop: "app.stop", preStopTimeout: 1.5 });
    const hookFields = toHashFields(hooked, 1);
    const hookHash: Record<string, string> = { version: "1" };
    for (let i = 0; i < hookFields.length; i += 2) hookHash[hookFields[i]!] = hookFields[i + 1]!;
    expect(fromHash("fn", hookHash)).toMatchObject({ initializer: "app.init", initializationTimeout: 20, preStop: "app.stop", preStopTimeout: 1.5 });
    expect(fromHash("fn", { ...hash, auth: "none" })?.auth).toBe("none");
    // A definition stored before the setting existed keeps needing a key.
    const { auth: _, ...older } = hash;
    expect(fromHash("fn", older)?.auth).toBe("key");
    // Stored before /tmp was a setting: Lambda's default.
    delete hash.ephemeralStorage;
    expect(fromHash("fn", hash)?.ephemeralStorage).toBe(512);
  });
});
