// The auth middleware's contract with the handlers behind it, on a real redis-server:
// res.locals.callerKeyId names the key that authenticated a request ("admin", or a stored key's
// id) and is undefined for an anonymous call to an `auth: "none"` function. Idempotency keys are
// bound to it. A verified key costs no Redis round trip until its cache entry's TTL runs out.

import type { AddressInfo } from "node:net";
import type { Server } from "node:http";
import express from "express";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AccessControl } from "../../gateway/api/auth.js";
import { errorHandler } from "../../gateway/api/errors.js";
import { Authenticator } from "../../gateway/auth/authenticator.js";
import { createKey } from "../../gateway/auth/keys.js";
import { FunctionCache } from "../../gateway/functions/function-cache.js";
import { deployFunction } from "../../gateway/functions/registry.js";
import { createLogger } from "../../gateway/logger.js";
import { loadScripts } from "../../gateway/protocol/all-scripts.js";
import type { EmbeddedRedis } from "../../gateway/redis/embedded-redis.js";
import { defaultQuotas, startTestRedis } from "../support/hearth.js";
import { tarGz } from "../support/packages.js";

const ADMIN_TOKEN = "integration-admin-token-0123456789";

let server: EmbeddedRedis;
let redis: Redis;
let http: Server;
let url: string;

beforeAll(async () => {
  server = await startTestRedis();
  redis = new Redis(server.url);
  await loadScripts(redis);
  const code = await tarGz({ "index.js": "exports.handler = async () => 1;" });
  await deployFunction(redis, defaultQuotas, "private", { runtime: "node" }, code);
  await deployFunction(redis, defaultQuotas, "public", { runtime: "node", auth: "none" }, code);

  const functions = new FunctionCache(redis);
  const access = new AccessControl(new Authenticator(redis, ADMIN_TOKEN), functions);
  const app = express();
  // Stands in for the invoke handler: says who the middleware found.
  app.post("/function/:name", access.invoke, (_req, res) => {
    res.json({ callerKeyId: res.locals.callerKeyId ?? null });
  });
  app.use(errorHandler(createLogger("test")));
  http = await new Promise<Server>((resolve) => {
    const listening = app.listen(0, "127.0.0.1", () => resolve(listening));
  });
  url = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((resolve) => http?.close(resolve));
  redis?.disconnect();
  await server?.stop();
});

async function callerOf(fn: string, key?: string): Promise<{ status: number; callerKeyId?: string | null }> {
  const response = await fetch(`${url}/function/${fn}`, { method: "POST", headers: key ? { authorization: `Bearer ${key}` } : {} });
  const body = (await response.json()) as { callerKeyId?: string | null };
  return { status: response.status, callerKeyId: body.callerKeyId };
}

describe("access control", () => {
  it('sets res.locals.callerKeyId to "admin", to the key id, or leaves it undefined for an anonymous public call', async () => {
    expect(await callerOf("private", ADMIN_TOKEN)).toEqual({ status: 200, callerKeyId: "admin" });
    const key = await createKey(redis, { name: "caller", scopes: ["invoke"], functions: ["private", "public"] });
    expect(await callerOf("private", key.key)).toEqual({ status: 200, callerKeyId: key.id });
    expect(await callerOf("public")).toEqual({ status: 200, callerKeyId: null });
    // A public function does not interpret the header: it is the function's own.
    expect(await callerOf("public", key.key)).toEqual({ status: 200, callerKeyId: null });
    expect((await callerOf("private")).status).toBe(401);
  });

  it("checks a verified key in memory: no Redis command per warm request", async () => {
    const key = await createKey(redis, { name: "warm", scopes: ["invoke"], functions: ["private"] });
    expect((await callerOf("private", key.key)).status).toBe(200);
    const before = await commandsProcessed();
    for (let i = 0; i < 20; i += 1) expect((await callerOf("private", key.key)).status).toBe(200);
    // INFO itself is the only command between the two readings.
    expect((await commandsProcessed()) - before).toBe(1);
  });
});

async function commandsProcessed(): Promise<number> {
  const info = await redis.info("stats");
  return Number(/total_commands_processed:(\d+)/.exec(info)![1]);
}
