// Hearth's quotas on a real redis-server: how many functions it holds, how many bytes of code packages
// (kept in Redis's memory), and how many containers they keep warm. Past any a deploy answers 403
// QuotaExceeded naming the limit and the use; a delete frees room; the byte counter stays equal to
// what is stored.

import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { CODE_BYTES } from "../../gateway/protocol/keys.js";
import { request } from "../support/async.js";
import { deployPackage, useTestHearth } from "../support/hearth.js";
import { tarGz } from "../support/packages.js";

const MAX_CODE_BYTES = 20_000;
const h = useTestHearth({ quotas: { maxFunctions: 2, maxTotalCodeBytes: MAX_CODE_BYTES, maxTotalMinWarm: 1 } });

/** A package of about `bytes` bytes (random content does not compress). */
const packageOf = (bytes: number) => tarGz({ "index.js": "exports.handler = async () => 1;", "padding.bin": randomBytes(bytes) });

async function put(name: string, code: Buffer): Promise<{ status: number; body: any }> {
  const response = await deployPackage(h.url, name, { runtime: "node" }, code);
  return { status: response.status, body: await response.json() };
}

/** The byte counter, and the bytes the stored functions' packages really take. */
async function codeBytes(): Promise<{ counted: number; stored: number }> {
  const { body } = await request(h.url, "GET", "/system/functions");
  return { counted: Number(await h.client.get(CODE_BYTES)), stored: body.functions.reduce((sum: number, f: { codeSize: number }) => sum + f.codeSize, 0) };
}

describe("quotas", () => {
  it("refuses a function past HEARTH_MAX_FUNCTIONS until one is deleted; redeploys of existing ones still go", async () => {
    const small = await packageOf(100);
    expect((await put("first", small)).status).toBe(201);
    expect((await put("second", small)).status).toBe(201);
    const third = await put("third", small);
    expect(third.status).toBe(403);
    expect(third.body).toEqual({
      errorType: "QuotaExceeded",
      errorMessage: "Hearth holds 2 functions, its limit (HEARTH_MAX_FUNCTIONS=2); delete one to deploy another",
    });
    expect((await request(h.url, "GET", "/system/functions/third")).status).toBe(404);
    expect((await put("second", await packageOf(200))).status).toBe(200);

    expect((await request(h.url, "DELETE", "/system/functions/second")).status).toBe(204);
    expect((await put("third", small)).status).toBe(201);
    expect((await request(h.url, "GET", "/system/functions")).body.functions.map((f: { name: string }) => f.name)).toEqual(["first", "third"]);
    await request(h.url, "DELETE", "/system/functions/first");
    await request(h.url, "DELETE", "/system/functions/third");
  });

  it("refuses code past HEARTH_MAX_TOTAL_CODE_BYTES, keeps the old version, and counts deploys, redeploys and deletes", async () => {
    const big = await packageOf(12_000);
    expect((await put("big", big)).status).toBe(201);
    expect(await codeBytes()).toEqual({ counted: big.length, stored: big.length });

    const other = await packageOf(9_000);
    const refused = await put("other", other);
    expect(refused.status).toBe(403);
    expect(refused.body).toEqual({
      errorType: "QuotaExceeded",
      errorMessage: `code packages take ${big.length} bytes of the ${MAX_CODE_BYTES} allowed (HEARTH_MAX_TOTAL_CODE_BYTES), and this deploy adds ${other.length}; delete functions to make room`,
    });
    // A redeploy counts only what it adds: replacing big's package by a smaller one fits, and so does other then.
    const smaller = await packageOf(4_000);
    expect((await put("big", smaller)).status).toBe(200);
    expect((await put("other", other)).status).toBe(201);
    expect(await codeBytes()).toEqual({ counted: smaller.length + other.length, stored: smaller.length + other.length });
    // Growing big past the limit is refused; its version and package stay.
    const grown = await put("big", await packageOf(12_000));
    expect(grown.status).toBe(403);
    expect((await request(h.url, "GET", "/system/functions/big")).body).toMatchObject({ version: 2, codeSize: smaller.length });

    expect((await request(h.url, "DELETE", "/system/functions/other")).status).toBe(204);
    expect(await codeBytes()).toEqual({ counted: smaller.length, stored: smaller.length });
    expect((await put("big", big)).status).toBe(200);
    expect(await codeBytes()).toEqual({ counted: big.length, stored: big.length });
    await request(h.url, "DELETE", "/system/functions/big");
  });

  it("refuses minWarm past HEARTH_MAX_TOTAL_MIN_WARM: a tenant cannot pin the hosts' containers with kept-warm ones", async () => {
    const small = await packageOf(100);
    const deployWarm = (name: string, minWarm: number) => deployPackage(h.url, name, { runtime: "node", minWarm, maxContainers: 1000 }, small);
    expect((await deployWarm("kept", 1)).status).toBe(201);
    const hog = await deployWarm("hog", 1000);
    expect(hog.status).toBe(403);
    expect(await hog.json()).toEqual({
      errorType: "QuotaExceeded",
      errorMessage: "functions keep 1 containers warm of the 1 allowed (HEARTH_MAX_TOTAL_MIN_WARM), and this deploy adds 1000; lower minWarm of other functions or delete them to make room",
    });
    expect((await request(h.url, "GET", "/system/functions/hog")).status).toBe(404);
    await request(h.url, "DELETE", "/system/functions/kept");
    expect((await deployWarm("hog", 1)).status).toBe(201);
    await request(h.url, "DELETE", "/system/functions/hog");
  });
});
