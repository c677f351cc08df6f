// The Redis Cluster audit of the Lua scripts: in a cluster a script may only touch the keys of one slot
// (its node refuses KEYS of several slots with CROSSSLOT, and keys it builds itself of another node's
// slot). Every script's KEYS for representative inputs, and the key prefixes it is handed to build keys
// from, must map to one slot. Then, on a three-master cluster, what the scripts leave to their callers:
// a function's consumer group on a stream of another node, and the acknowledgement of its entries.

import calculateSlot from "cluster-key-slot";
import type { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AsyncInvocations } from "../../gateway/async/async-invocations.js";
import { CallbackDestinations } from "../../gateway/async/callback-destinations.js";
import { restoreGroup, subscribeStream, unsubscribeStream } from "../../gateway/async/stream-subscriptions.js";
import { FunctionCache } from "../../gateway/functions/function-cache.js";
import { deployFunction } from "../../gateway/functions/registry.js";
import { ALL_SCRIPTS } from "../../gateway/protocol/all-scripts.js";
import * as apiKeys from "../../gateway/protocol/api-key-scripts.js";
import * as asyncLifecycle from "../../gateway/protocol/async-lifecycle.js";
import * as containerLifecycle from "../../gateway/protocol/container-lifecycle.js";
import * as functions from "../../gateway/protocol/function-scripts.js";
import { functionKeys, newInvocationId, streamGroup } from "../../gateway/protocol/keys.js";
import type { LuaScript } from "../../gateway/protocol/scripts.js";
import * as streams from "../../gateway/protocol/stream-scripts.js";
import { xackSources } from "../../gateway/protocol/stream-sources.js";
import type { RedisClient } from "../../gateway/redis/connections.js";
import { ReplicatedWrites } from "../../gateway/redis/replicated-writes.js";
import { defaultQuotas } from "../support/hearth.js";
import { tarGz } from "../support/packages.js";
import { startRedisCluster, type RedisCluster } from "../support/redis-cluster.js";

const fn = "orders";
const keys = functionKeys(fn);
const id = newInvocationId(fn);
const containerId = "3f2a9c";
/** A Redis Stream is its producer's key, named as the producer likes: outside any function's slot. */
const stream = "sensor-readings";
const now = Date.now();

interface Case {
  name: string;
  script: LuaScript<never, unknown>;
  input: unknown;
}

function audit<Input>(name: string, script: LuaScript<Input, unknown>, input: Input): Case {
  return { name, script: script as unknown as LuaScript<never, unknown>, input };
}

const container = { keys, fn, containerId, version: 3 };
const CASES: Case[] = [
  audit("create-api-key", apiKeys.createApiKey, { id: "k1", secretSha256: "ab".repeat(32), recordJson: "{}" }),
  audit("revoke-api-key", apiKeys.revokeApiKey, { id: "k1" }),
  audit("deploy-function", functions.deployFunction, { keys, fn, codeSha: "cd".repeat(32), code: Buffer.from("x"), now, fields: ["runtime", "node"] }),
  audit("delete-function", functions.deleteFunction, { keys, fn, now, retentionMs: 1000, failedResult: "{}" }),
  audit("claim-function-name", functions.claimFunctionName, { fn, maxFunctions: 10 }),
  audit("reserve-code-bytes", functions.reserveCodeBytes, { bytes: 100, maxTotalCodeBytes: 1e9 }),
  audit("reserve-container", containerLifecycle.reserveContainer, { keys, containerId, invokerId: "i1", now, freeContainers: 1, freeMemoryMb: 512 }),
  audit("register-container", containerLifecycle.registerContainer, { ...container, now, timingsJson: "{}" }),
  audit("finish-invocation", containerLifecycle.finishInvocation, { ...container, now, leaving: false }),
  audit("retire-container", containerLifecycle.retireContainer, { ...container, keepAliveExpired: true }),
  audit("enqueue-invocation", containerLifecycle.enqueueInvocation, { keys, fn, envelope: Buffer.from("{}\n"), expectedVersion: 3, now }),
  audit("release-container", containerLifecycle.releaseContainer, { keys, fn, containerId, failQueuedWhenPoolEmpty: true, now, retentionMs: 1000, result: "{}", outcome: "crash" }),
  audit("mark-draining", containerLifecycle.markDraining, { keys, containerIds: [containerId] }),
  audit("enqueue-async-invocation", asyncLifecycle.enqueueAsyncInvocation, { keys, fn, id, payload: Buffer.from("{}"), expectedVersion: 3, now, retentionMs: 1000 }),
  audit("enqueue-async-invocation (Idempotency-Key)", asyncLifecycle.enqueueAsyncInvocation, {
    keys,
    fn,
    id,
    payload: Buffer.from("{}"),
    expectedVersion: 3,
    now,
    retentionMs: 1000,
    idempotency: { key: "order-17", fingerprint: "ef".repeat(32) },
  }),
  audit("start-async-invocation", asyncLifecycle.startAsyncInvocation, { keys, id, containerId, now }),
  audit("settle-async-invocation", asyncLifecycle.settleAsyncInvocation, { keys, fn, id, containerId, statusCode: 200, result: "1", now, retentionMs: 1000, outcome: "success", runMs: 5 }),
  audit("promote-due-retries", asyncLifecycle.promoteDueRetries, { keys, fn, now, maxCount: 10 }),
  audit("cancel-invocation", asyncLifecycle.cancelInvocation, { keys, id, now, retentionMs: 1000 }),
  audit("redrive-dead-letters", asyncLifecycle.redriveDeadLetters, { keys, fn, now, maxCount: 10, ids: [id] }),
  audit("purge-dead-letters", asyncLifecycle.purgeDeadLetters, { keys, maxCount: 10, ids: [id] }),
  audit("claim-due-callbacks", asyncLifecycle.claimDueCallbacks, { keys, now, leaseMs: 1000, maxCount: 10 }),
  audit("settle-callback", asyncLifecycle.settleCallback, { keys, fn, id, outcome: "retry", now, nextDue: now + 1000, error: "503" }),
  audit("subscribe-stream", streams.subscribeStream, { keys, fn, stream, subscriptionJson: "{}" }),
  audit("unsubscribe-stream", streams.unsubscribeStream, { keys, fn, stream }),
];

/** The keys a run touches that its call names: its KEYS, and the key prefixes among its ARGV (a hash tag's keys start `hearth:{`). */
function namedKeys(testCase: Case): string[] {
  const { keys: scriptKeys, args } = testCase.script.call(testCase.input as never);
  const prefixes = args.filter((arg): arg is string => typeof arg === "string" && arg.startsWith("hearth:{"));
  return [...scriptKeys, ...prefixes];
}

const slotsOf = (names: string[]): Set<number> => new Set(names.map((name) => calculateSlot(name)));

describe("the Lua scripts in a Redis Cluster", () => {
  it("audits every script", () => {
    const audited = new Set(CASES.map((testCase) => testCase.script));
    expect(ALL_SCRIPTS.filter((script) => !audited.has(script)).map((script) => script.source.split("\n")[0])).toEqual([]);
  });

  for (const testCase of CASES) {
    it(`${testCase.name} touches one slot`, () => {
      expect([...slotsOf(namedKeys(testCase))]).toHaveLength(1);
    });
  }
});

describe("a stream subscription on a three-master cluster, the stream on another master than the function", () => {
  let cluster: RedisCluster;
  let client: RedisClient;
  let redis: Redis;
  let invocations: AsyncInvocations;
  let producerStream: string;
  const group = streamGroup(fn);

  const masterOf = (key: string) => cluster.nodes.findIndex((node) => node.slots[0] <= calculateSlot(key) && calculateSlot(key) <= node.slots[1]);
  /** The stream's own node: XINFO names no key ioredis can route by. */
  const groupsOn = async (key: string) => {
    const node = cluster.nodes[masterOf(key)]!.connect();
    try {
      return ((await node.xinfo("GROUPS", key)) as unknown[][]).map((fields) => fields[1]);
    } finally {
      node.disconnect();
    }
  };
  const pendingCount = async () => ((await redis.xpending(producerStream, group)) as [number])[0];

  beforeAll(async () => {
    cluster = await startRedisCluster();
    client = cluster.connect();
    redis = client as unknown as Redis;
    producerStream = ["readings-1", "readings-2", "readings-3", "readings-4"].find((name) => masterOf(name) !== masterOf(keys.def))!;
    invocations = new AsyncInvocations(client, new FunctionCache(client), 60_000, new CallbackDestinations([], "127.0.0.1"), new ReplicatedWrites(client, 0, 1_000));
    await deployFunction(redis, defaultQuotas, fn, { runtime: "node", maxRetries: 0 }, await tarGz({ "index.js": "exports.handler = () => 1" }));
  });

  afterAll(async () => {
    client?.disconnect();
    await cluster?.stop();
  });

  /** An entry read by the function's group and accepted as the stream reader does (StreamTriggers). */
  async function acceptEntry(n: number): Promise<string> {
    const entry = (await redis.xadd(producerStream, "*", "n", String(n)))!;
    await redis.xreadgroup("GROUP", group, "reader", "COUNT", 1, "STREAMS", producerStream, ">");
    const { id } = await invocations.accept(fn, Buffer.from(JSON.stringify({ n })), {
      caller: "stream-trigger",
      integration: "json",
      idempotencyKey: `stream:${fn}:${producerStream}:${entry}`,
      source: { stream: producerStream, group, entry },
    });
    return id;
  }

  /** As a container that takes the queued envelope: its running list holds it. */
  const take = (containerId: string) => redis.lmoveBuffer(keys.queue, keys.running(containerId), "RIGHT", "LEFT");

  it("makes the group on the stream's node, acknowledges entries whose invocations are settled, released and cancelled, and destroys the group on unsubscribe", async () => {
    expect(masterOf(producerStream)).not.toBe(masterOf(keys.def));
    expect(await subscribeStream(client, fn, producerStream, { startFrom: "oldest" })).toMatchObject({ created: true });
    expect(await subscribeStream(client, fn, producerStream, {})).toMatchObject({ created: false, subscription: { startFrom: "oldest" } });
    expect(await groupsOn(producerStream)).toEqual([group]);
    expect(await redis.hkeys(keys.streams)).toEqual([producerStream]);

    // Settled by its container: the settle returns the entry, and the adapter's XACK goes to the stream's node.
    const succeeded = await acceptEntry(1);
    await take("c1");
    const settled = await asyncLifecycle.settleAsyncInvocation.run(redis, { keys, fn, id: succeeded, containerId: "c1", statusCode: 200, result: "1", now, retentionMs: 60_000, outcome: "success", runMs: 5 });
    expect(settled).toMatchObject({ taken: true, sources: [{ stream: producerStream, group }] });
    expect(await pendingCount()).toBe(1);
    await xackSources(() => client, settled.sources);
    expect(await pendingCount()).toBe(0);

    // Its container died with no retry left (maxRetries 0): dead-lettered by the invoker's release.
    const released = await acceptEntry(2);
    await take("c2");
    const release = await containerLifecycle.releaseContainer.run(redis, { keys, fn, containerId: "c2", failQueuedWhenPoolEmpty: false, now, retentionMs: 60_000, result: "{}", outcome: "crash" });
    expect(await redis.hget(keys.invocation(released), "status")).toBe("dead-lettered");
    expect(release.sources).toMatchObject([{ stream: producerStream, group }]);
    await xackSources(() => client, release.sources);
    expect(await pendingCount()).toBe(0);

    // Cancelled while queued: AsyncInvocations.cancel acknowledges it.
    const cancelled = await acceptEntry(3);
    expect(await pendingCount()).toBe(1);
    expect(await invocations.cancel(cancelled)).toMatchObject({ status: "cancelled" });
    expect(await pendingCount()).toBe(0);

    expect(await unsubscribeStream(client, fn, producerStream)).toBe(true);
    expect(await groupsOn(producerStream)).toEqual([]);
    expect(await redis.hkeys(keys.streams)).toEqual([]);
    expect(await redis.xlen(producerStream)).toBe(3);
  });

  it("recreates a deleted stream's group on its node while the subscription stands, and makes nothing for a function that does not exist", async () => {
    await subscribeStream(client, fn, producerStream, {});
    await redis.del(producerStream);
    expect(await restoreGroup(client, fn, producerStream)).toBe(true);
    expect(await groupsOn(producerStream)).toEqual([group]);
    await unsubscribeStream(client, fn, producerStream);
    expect(await restoreGroup(client, fn, producerStream)).toBe(false);
    expect(await groupsOn(producerStream)).toEqual([]);

    const elsewhere = ["ledger-1", "ledger-2", "ledger-3", "ledger-4"].find((name) => masterOf(name) !== masterOf(functionKeys("ghost").def))!;
    await expect(subscribeStream(client, "ghost", elsewhere, {})).rejects.toMatchObject({ status: 404, errorType: "FunctionNotFound" });
    expect(await redis.exists(elsewhere)).toBe(0);
  });
});

