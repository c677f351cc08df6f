// Idempotency-Keys on a real redis-server and on a three-master Redis Cluster: a key stands for one
// request of one caller to one function (it lives in the function's slot). The same request again gets
// the first id; anything else to that function with the key (another caller above all) gets 422 and
// queues nothing.

import { Redis } from "ioredis";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { AsyncInvocations, type AcceptOptions } from "../../gateway/async/async-invocations.js";
import { CallbackDestinations } from "../../gateway/async/callback-destinations.js";
import { FunctionCache } from "../../gateway/functions/function-cache.js";
import { deployFunction } from "../../gateway/functions/registry.js";
import { functionKeys } from "../../gateway/protocol/keys.js";
import { defaultQuotas } from "../support/hearth.js";
import { tarGz } from "../support/packages.js";
import { redisSetups, type ScriptRedis } from "../support/redis-setups.js";
import { ReplicatedWrites } from "../../gateway/redis/replicated-writes.js";

describe.each(redisSetups)("Idempotency-Key on $name", (setup) => {
  let server: ScriptRedis;
  let redis: Redis;
  let invocations: AsyncInvocations;

  beforeAll(async () => {
    server = await setup.start();
    redis = server.redis;
  });

  afterAll(async () => {
    await server?.stop();
  });

  beforeEach(async () => {
    await server.flush();
    for (const fn of ["orders", "refunds"]) await deployFunction(redis, defaultQuotas, fn, { runtime: "node" }, await tarGz({ "index.js": "exports.handler = () => 1" }));
    invocations = new AsyncInvocations(redis, new FunctionCache(redis), 60_000, new CallbackDestinations([], "127.0.0.1"), new ReplicatedWrites(redis, 0, 1_000));
  });

  const alice: AcceptOptions = { caller: "key:alice", integration: "json", idempotencyKey: "order-17" };
  const accept = (fn: string, body: string, options: AcceptOptions) => invocations.accept(fn, Buffer.from(body), options);
  const queued = async () => (await redis.llen(functionKeys("orders").queue)) + (await redis.llen(functionKeys("refunds").queue));

  it("answers the first id to the same caller with the same request", async () => {
    const first = await accept("orders", '{"n":1}', alice);
    expect(first.duplicate).toBe(false);
    expect(await accept("orders", '{"n":1}', alice)).toEqual({ id: first.id, duplicate: true });
    expect(await queued()).toBe(1);
  });

  it("answers 422 to another caller with the same key and request, and queues nothing", async () => {
    await accept("orders", '{"n":1}', alice);
    const mallory = accept("orders", '{"n":1}', { ...alice, caller: "key:mallory" });
    await expect(mallory).rejects.toMatchObject({ status: 422, errorType: "IdempotencyKeyMismatch" });
    await expect(accept("orders", '{"n":1}', { ...alice, caller: "anonymous" })).rejects.toMatchObject({ status: 422 });
    expect(await queued()).toBe(1);
  });

  it("answers 422 when the body, integration or callback URL differ", async () => {
    await accept("orders", '{"n":1}', alice);
    const mismatches = [
      () => accept("orders", '{"n":2}', alice),
      () => accept("orders", '{"n":1}', { ...alice, integration: "raw" }),
      () => accept("orders", '{"n":1}', { ...alice, callbackUrl: "https://hooks.example.com/done" }),
    ];
    for (const mismatch of mismatches) await expect(mismatch()).rejects.toMatchObject({ status: 422, errorType: "IdempotencyKeyMismatch" });
    expect(await queued()).toBe(1);
  });

  it("takes the same key to another function as another request", async () => {
    const order = await accept("orders", '{"n":1}', alice);
    const refund = await accept("refunds", '{"n":1}', alice);
    expect(refund.duplicate).toBe(false);
    expect(refund.id).not.toBe(order.id);
    expect(await accept("refunds", '{"n":1}', alice)).toEqual({ id: refund.id, duplicate: true });
    await expect(accept("refunds", '{"n":2}', alice)).rejects.toMatchObject({ status: 422, errorType: "IdempotencyKeyMismatch" });
    // One EXISTS each: on a cluster the two functions' keys may be on different masters.
    for (const fn of ["orders", "refunds"]) expect(await redis.exists(functionKeys(fn).idempotency("order-17"))).toBe(1);
    expect(await queued()).toBe(2);
  });

  it("keeps keys beginning stream: for stream triggers", async () => {
    await expect(accept("orders", "{}", { ...alice, idempotencyKey: "stream:orders:s:1-0" })).rejects.toMatchObject({ status: 400, errorType: "InvalidIdempotencyKey" });
    const entry = { stream: "s", group: "hearth:orders", entry: "1-0" };
    const fromStream: AcceptOptions = { caller: "stream-trigger", integration: "json", idempotencyKey: "stream:orders:s:1-0", source: entry };
    const first = await accept("orders", "{}", fromStream);
    expect(await accept("orders", "{}", fromStream)).toEqual({ id: first.id, duplicate: true });
  });
});
