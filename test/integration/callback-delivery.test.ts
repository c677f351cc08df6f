// Callback delivery on a real redis-server, with the host names resolved by a resolver of the test's:
// a name that resolves to a refused address is refused at delivery, before any connection, and the
// record says so; an allowed one is delivered to the address the policy checked.

import { Redis } from "ioredis";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { AsyncInvocations } from "../../gateway/async/async-invocations.js";
import { CallbackDestinations, type Resolver } from "../../gateway/async/callback-destinations.js";
import { deliverDueCallbacks } from "../../gateway/async/callback-sender.js";
import { FunctionCache } from "../../gateway/functions/function-cache.js";
import { deployFunction } from "../../gateway/functions/registry.js";
import { createLogger } from "../../gateway/logger.js";
import { functionKeys, invocationRecordKey } from "../../gateway/protocol/keys.js";
import { settleAsyncInvocation, startAsyncInvocation } from "../../gateway/protocol/async-lifecycle.js";
import type { EmbeddedRedis } from "../../gateway/redis/embedded-redis.js";
import { startReceiver } from "../support/async.js";
import { defaultQuotas, startTestRedis } from "../support/hearth.js";
import { tarGz } from "../support/packages.js";
import { ReplicatedWrites } from "../../gateway/redis/replicated-writes.js";

const fn = "notify";
const keys = functionKeys(fn);
const policy = { attempts: 3, retryDelayMs: 10, timeoutMs: 2_000, allow: [] };
let server: EmbeddedRedis;
let redis: Redis;
let receiver: Awaited<ReturnType<typeof startReceiver>>;

beforeAll(async () => {
  server = await startTestRedis();
  redis = new Redis(server.url);
  receiver = await startReceiver();
});

afterAll(async () => {
  await receiver?.close();
  redis?.disconnect();
  await server?.stop();
});

beforeEach(async () => {
  await redis.flushall();
  receiver.calls.length = 0;
  await deployFunction(redis, defaultQuotas, fn, { runtime: "node" }, await tarGz({ "index.js": "exports.handler = () => 1" }));
});

/** Resolves `hooks.test` (a name no DNS knows) to the given addresses, and counts its lookups. */
function resolverOf(addresses: string[]): Resolver & { lookups: string[] } {
  const lookups: string[] = [];
  return Object.assign(async (hostname: string) => {
    lookups.push(hostname);
    if (hostname !== "hooks.test") throw Object.assign(new Error(`${hostname} unknown`), { code: "ENOTFOUND" });
    return addresses.map((address) => ({ address, family: 4 }));
  }, { lookups });
}

/** An async invocation with that callback URL, run and succeeded as a container would: its callback is due. */
async function finishedWithCallback(destinations: CallbackDestinations, callbackUrl: string): Promise<string> {
  const { id } = await new AsyncInvocations(redis, new FunctionCache(redis), 60_000, destinations, new ReplicatedWrites(redis, 0, 1_000)).accept(fn, Buffer.from("{}"), {
    caller: "anonymous",
    integration: "json",
    callbackUrl,
  });
  await redis.lmove(keys.queue, keys.running("c1"), "RIGHT", "LEFT");
  await startAsyncInvocation.run(redis, { keys, id, containerId: "c1", now: Date.now() });
  await settleAsyncInvocation.run(redis, { keys, fn, id, containerId: "c1", statusCode: 200, result: '{"done":true}', now: Date.now(), retentionMs: 60_000, outcome: "success", runMs: 1 });
  return id;
}

const deliver = (destinations: CallbackDestinations) => deliverDueCallbacks(redis, policy, destinations, createLogger("test"))(fn);

describe("callback delivery", () => {
  it("refuses a name that resolves to a loopback address, records the policy as the reason, and never connects", async () => {
    const resolver = resolverOf(["127.0.0.1"]);
    const destinations = new CallbackDestinations([], "127.0.0.1", resolver);
    const port = new URL(receiver.url).port;
    const id = await finishedWithCallback(destinations, `http://hooks.test:${port}/receive`);
    await deliver(destinations);
    expect(resolver.lookups).toEqual(["hooks.test"]);
    expect(receiver.calls).toHaveLength(0);
    // Given up at once: trying again cannot change the policy's answer.
    expect(await redis.hmget(invocationRecordKey(id)!, "callbackStatus", "callbackAttempts", "callbackError")).toEqual([
      "failed",
      "1",
      "refused by the callback policy (see HEARTH_CALLBACK_ALLOW)",
    ]);
    expect(await redis.zcard(keys.callbacks)).toBe(0);
  });

  it("refuses a name when one of its addresses is refused, even if the others are allowed", async () => {
    const resolver = resolverOf(["127.0.0.1", "10.0.0.1"]);
    const destinations = new CallbackDestinations(["127.0.0.1/32"], "127.0.0.1", resolver);
    const id = await finishedWithCallback(destinations, `http://hooks.test:${new URL(receiver.url).port}/receive`);
    await deliver(destinations);
    expect(receiver.calls).toHaveLength(0);
    expect(await redis.hget(invocationRecordKey(id)!, "callbackError")).toBe("refused by the callback policy (see HEARTH_CALLBACK_ALLOW)");
  });

  it("delivers to an allowed name at the address its lookup checked", async () => {
    const resolver = resolverOf(["127.0.0.1"]);
    const destinations = new CallbackDestinations(["hooks.test"], "127.0.0.1", resolver);
    const id = await finishedWithCallback(destinations, `http://hooks.test:${new URL(receiver.url).port}/receive`);
    await deliver(destinations);
    expect(resolver.lookups).toEqual(["hooks.test"]);
    expect(receiver.calls).toHaveLength(1);
    expect(receiver.calls[0]!.headers).toMatchObject({ host: `hooks.test:${new URL(receiver.url).port}`, "x-call-id": id, "x-function-name": fn });
    expect(JSON.parse(receiver.calls[0]!.body)).toEqual({ done: true });
    expect(await redis.hget(invocationRecordKey(id)!, "callbackStatus")).toBe("delivered");
  });

  it("refuses at delivery a literal address the policy refuses now, though it was accepted before", async () => {
    const permissive = new CallbackDestinations(["127.0.0.1/32"], "127.0.0.1");
    const id = await finishedWithCallback(permissive, receiver.url);
    await deliver(new CallbackDestinations([], "127.0.0.1"));
    expect(receiver.calls).toHaveLength(0);
    expect(await redis.hget(invocationRecordKey(id)!, "callbackError")).toBe("refused by the callback policy (see HEARTH_CALLBACK_ALLOW)");
  });
});
