// The function quotas (HEARTH_MAX_FUNCTIONS, HEARTH_MAX_TOTAL_CODE_BYTES, HEARTH_MAX_TOTAL_MIN_WARM) on a real redis-server, and
// deploys and deletes on a real three-master Redis Cluster. A deploy changes its function's slot in one
// script and the global counters in steps of their own (gateway/functions/quotas.ts): these tests hold
// them to the quotas under concurrent deploys, and the counters to what is stored.

import { randomBytes } from "node:crypto";
import { Redis } from "ioredis";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import calculateSlot from "cluster-key-slot";
import { deleteFunction, deployFunction, listFunctions } from "../../gateway/functions/registry.js";
import { enqueueAsyncInvocation } from "../../gateway/protocol/async-lifecycle.js";
import { CODE_BYTES, functionKeys, FUNCTIONS_INDEX, MIN_WARM_TOTAL, newInvocationId } from "../../gateway/protocol/keys.js";
import type { EmbeddedRedis } from "../../gateway/redis/embedded-redis.js";
import { startTestRedis } from "../support/hearth.js";
import { tarGz } from "../support/packages.js";
import { startRedisCluster, type RedisCluster } from "../support/redis-cluster.js";

/** A package of about `size` bytes (random text barely compresses). */
const packageOf = (size: number) => tarGz({ "index.js": `exports.handler = () => "${randomBytes(size).toString("base64").slice(0, size)}";` });
const node = { runtime: "node" };

describe("quotas on one redis-server", () => {
  let server: EmbeddedRedis;
  let redis: Redis;

  beforeAll(async () => {
    server = await startTestRedis();
    redis = new Redis(server.url);
  });

  afterAll(async () => {
    redis?.disconnect();
    await server?.stop();
  });

  beforeEach(async () => {
    await redis.flushall();
  });

  it("lets no more than HEARTH_MAX_FUNCTIONS functions in, concurrent deploys included, and frees a name on delete", async () => {
    const quotas = { maxFunctions: 3, maxTotalCodeBytes: 10_000_000, maxTotalMinWarm: 10 };
    const code = await packageOf(100);
    const names = ["a1", "a2", "a3", "a4", "a5", "a6"];
    const outcomes = await Promise.allSettled(names.map((name) => deployFunction(redis, quotas, name, node, code)));
    const refused = outcomes.filter((outcome) => outcome.status === "rejected");
    expect(refused).toHaveLength(3);
    for (const outcome of refused) expect(outcome.reason).toMatchObject({ status: 403, errorType: "QuotaExceeded", message: expect.stringContaining("Hearth holds 3 functions") });
    const deployed = (await listFunctions(redis)).map((definition) => definition.name);
    expect(deployed).toHaveLength(3);
    expect((await redis.smembers(FUNCTIONS_INDEX)).sort()).toEqual(deployed);
    // A refused name is not counted, and the ones in still redeploy.
    expect((await deployFunction(redis, quotas, deployed[0]!, node, await packageOf(200))).created).toBe(false);
    const outside = names.find((name) => !deployed.includes(name))!;
    await expect(deployFunction(redis, quotas, outside, node, code)).rejects.toMatchObject({ status: 403 });
    expect(await deleteFunction(redis, deployed[1]!, 60_000)).toBe(true);
    expect((await deployFunction(redis, quotas, outside, node, code)).created).toBe(true);
    expect(await redis.scard(FUNCTIONS_INDEX)).toBe(3);
  });

  it("bounds the containers all functions keep warm together: concurrent deploys, redeploys that lower or raise minWarm, deletes", async () => {
    const quotas = { maxFunctions: 10, maxTotalCodeBytes: 10_000_000, maxTotalMinWarm: 5 };
    const code = await packageOf(100);
    const warm = (minWarm: number) => ({ ...node, minWarm, maxContainers: 10 });
    const counted = async () => Number(await redis.get(MIN_WARM_TOTAL));
    // Three tenants race for 5 kept-warm containers, 2 each: two fit, the third is refused and changes nothing.
    const outcomes = await Promise.allSettled(["w1", "w2", "w3"].map((name) => deployFunction(redis, quotas, name, warm(2), code)));
    const refused = outcomes.filter((outcome) => outcome.status === "rejected");
    expect(refused).toHaveLength(1);
    expect(refused[0]).toMatchObject({
      reason: { status: 403, errorType: "QuotaExceeded", message: "functions keep 4 containers warm of the 5 allowed (HEARTH_MAX_TOTAL_MIN_WARM), and this deploy adds 2; lower minWarm of other functions or delete them to make room" },
    });
    const [first, second] = (await listFunctions(redis)).map((definition) => definition.name);
    expect(await counted()).toBe(4);
    expect(await listFunctions(redis)).toHaveLength(2);
    // A function that keeps none warm always fits; a redeploy counts only what it adds.
    await deployFunction(redis, quotas, "cold", node, code);
    await deployFunction(redis, quotas, first!, warm(3), code);
    expect(await counted()).toBe(5);
    await expect(deployFunction(redis, quotas, second!, warm(3), code)).rejects.toMatchObject({ status: 403 });
    expect((await listFunctions(redis)).find((definition) => definition.name === second)?.minWarm).toBe(2);
    // Lowering gives room back, as does a delete.
    await deployFunction(redis, quotas, first!, warm(0), code);
    expect(await counted()).toBe(2);
    expect(await deleteFunction(redis, second!, 60_000)).toBe(true);
    expect(await counted()).toBe(0);
    await deployFunction(redis, quotas, "w3", warm(5), code);
    expect(await counted()).toBe(5);
  });

  it("counts code bytes as stored across deploys, redeploys, refusals and deletes", async () => {
    const stored = async () => (await listFunctions(redis)).reduce((sum, definition) => sum + definition.codeSize, 0);
    const counted = async () => Number(await redis.get(CODE_BYTES));
    const big = await packageOf(12_000);
    const quotas = { maxFunctions: 10, maxTotalCodeBytes: big.length + 5_000, maxTotalMinWarm: 10 };
    await deployFunction(redis, quotas, "big", node, big);
    expect(await counted()).toBe(big.length);

    const other = await packageOf(9_000);
    await expect(deployFunction(redis, quotas, "other", node, other)).rejects.toMatchObject({
      status: 403,
      message: `code packages take ${big.length} bytes of the ${quotas.maxTotalCodeBytes} allowed (HEARTH_MAX_TOTAL_CODE_BYTES), and this deploy adds ${other.length}; delete functions to make room`,
    });
    // The refused deploy gave its name back, and reserved nothing.
    expect(await redis.smembers(FUNCTIONS_INDEX)).toEqual(["big"]);
    expect(await counted()).toBe(big.length);

    // A redeploy counts only what it adds: a smaller package for big makes room for other.
    await deployFunction(redis, quotas, "big", node, await packageOf(3_000));
    await deployFunction(redis, quotas, "other", node, other);
    // A settings-only update adds nothing, even at the limit.
    await deployFunction(redis, { ...quotas, maxTotalCodeBytes: 1, maxTotalMinWarm: 10 }, "other", { ...node, timeout: 5 });
    expect(await counted()).toBe(await stored());

    // Concurrent redeploys of one function: the counter ends at what is stored.
    const packages = await Promise.all([1_000, 2_000, 3_000].map((size) => packageOf(size)));
    await Promise.allSettled(packages.map((code) => deployFunction(redis, quotas, "big", node, code)));
    expect(await counted()).toBe(await stored());

    await deleteFunction(redis, "big", 60_000);
    await deleteFunction(redis, "other", 60_000);
    expect(await counted()).toBe(0);
    expect(await redis.scard(FUNCTIONS_INDEX)).toBe(0);
  });
});

describe("functions on a three-master Redis Cluster", () => {
  let cluster: RedisCluster;

  beforeAll(async () => {
    cluster = await startRedisCluster();
  });

  afterAll(async () => {
    await cluster?.stop();
  });

  it("deploys, lists and deletes functions whose slots are on different masters, and counts their quotas", async () => {
    const client = cluster.connect();
    // The registry's functions take a Redis; a Cluster client has the same commands.
    const redis = client as unknown as Redis;
    try {
      const names = ["orders", "refunds", "shipping"];
      const masters = new Set(names.map((name) => cluster.nodes.findIndex((n) => n.slots[0] <= calculateSlot(functionKeys(name).def) && calculateSlot(functionKeys(name).def) <= n.slots[1])));
      expect(masters.size).toBeGreaterThan(1);
      const quotas = { maxFunctions: 3, maxTotalCodeBytes: 10_000_000, maxTotalMinWarm: 10 };
      const deployed = await Promise.all(names.map(async (name) => (await deployFunction(redis, quotas, name, node, await packageOf(500))).definition));
      expect((await listFunctions(redis)).map((definition) => definition.name)).toEqual(names);
      await expect(deployFunction(redis, quotas, "returns", node, await packageOf(500))).rejects.toMatchObject({ status: 403 });
      expect(Number(await redis.get(CODE_BYTES))).toBe(deployed.reduce((sum, definition) => sum + definition.codeSize, 0));
      expect(await deleteFunction(redis, "refunds", 60_000)).toBe(true);
      expect((await listFunctions(redis)).map((definition) => definition.name)).toEqual(["orders", "shipping"]);
      expect(Number(await redis.get(CODE_BYTES))).toBe(deployed[0]!.codeSize + deployed[2]!.codeSize);
    } finally {
      client.disconnect();
    }
  });

  it("accepts an async invocation with an Idempotency-Key once, in the function's slot", async () => {
    const client = cluster.connect();
    const redis = client as unknown as Redis;
    try {
      const { definition } = await deployFunction(redis, { maxFunctions: 10, maxTotalCodeBytes: 10_000_000, maxTotalMinWarm: 10 }, "billing", node, await packageOf(100));
      const keys = functionKeys("billing");
      const accept = (id: string) =>
        enqueueAsyncInvocation.run(redis, {
          keys,
          fn: "billing",
          id,
          payload: Buffer.from("{}"),
          expectedVersion: definition.version,
          now: Date.now(),
          retentionMs: 60_000,
          idempotency: { key: "invoice-9", fingerprint: "ab".repeat(32) },
        });
      const first = newInvocationId("billing");
      expect(await accept(first)).toEqual(["queued"]);
      expect(await accept(newInvocationId("billing"))).toEqual(["duplicate", first]);
      expect(await redis.llen(keys.queue)).toBe(1);
    } finally {
      client.disconnect();
    }
  });
});
