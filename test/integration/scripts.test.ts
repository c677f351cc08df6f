// The Lua scripts on a real redis-server and on a three-master Redis Cluster: the scaling decisions and
// state changes every invoker and container rely on.

import { Redis } from "ioredis";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { restoreGroup, subscribeStream, unsubscribeStream } from "../../gateway/async/stream-subscriptions.js";
import { functionConfigSchema } from "../../gateway/functions/config-schema.js";
import { deleteFunction, deployFunction } from "../../gateway/functions/registry.js";
import { enqueueAsyncInvocation, promoteDueRetries, settleAsyncInvocation, startAsyncInvocation } from "../../gateway/protocol/async-lifecycle.js";
import {
  enqueueInvocation,
  finishInvocation,
  formatContainerRecord,
  markDraining,
  registerContainer,
  releaseContainer,
  reserveContainer,
  retireContainer,
  WAKE,
  type ContainerRecord,
} from "../../gateway/protocol/container-lifecycle.js";
import { decodeMessage, encodeMessage, type InvocationMeta } from "../../gateway/protocol/envelope.js";
import { EVENTS_CHANNEL, functionKeys, streamGroup } from "../../gateway/protocol/keys.js";
import { defaultQuotas, eventually } from "../support/hearth.js";
import { tarGz } from "../support/packages.js";
import { redisSetups, type ScriptRedis } from "../support/redis-setups.js";

const fn = "pool-fn";
const keys = functionKeys(fn);

describe.each(redisSetups)("Lua scripts on $name", (setup) => {
  let server: ScriptRedis;
  let redis: Redis;
  const events: string[] = [];

  beforeAll(async () => {
    server = await setup.start();
    redis = server.redis;
    server.subscriber.on("message", (_channel: string, message: string) => events.push(message));
    await server.subscriber.subscribe(EVENTS_CHANNEL);
  });

  afterAll(async () => {
    await server?.stop();
  });

  beforeEach(async () => {
    await server.flush();
    events.length = 0;
    await deployFunction(redis, defaultQuotas, fn, { runtime: "node", maxContainers: 2 }, await tarGz({ "index.js": "exports.handler = () => 1" }));
  });

  function envelope(id: string, version = 1): Buffer {
    const meta: InvocationMeta = { id, function: fn, version, replyTo: "gw", enqueuedAt: Date.now(), startBy: Date.now() + 10_000 };
    return encodeMessage(meta, "{}");
  }

  const enqueue = (id: string, version = 1) => enqueueInvocation.run(redis, { keys, fn, envelope: envelope(id, version), expectedVersion: version, now: Date.now() });
  /** Free on the invoker's host: containers and MiB. */
  const reserve = (containerId: string, free = { containers: 100, memoryMb: 100_000 }) =>
    reserveContainer.run(redis, { keys, containerId, invokerId: "inv", now: Date.now(), freeContainers: free.containers, freeMemoryMb: free.memoryMb });
  const setState = (containerId: string, state: ContainerRecord["state"], version = 1) =>
    redis.hset(keys.containers, containerId, formatContainerRecord({ state, version, invokerId: "inv", since: Date.now() }));
  const container = (containerId: string) => ({ keys, fn, containerId, version: 1 });
  /** A started container registers, as its adapter does. */
  const register = async (containerId: string) => {
    await setState(containerId, "starting");
    return registerContainer.run(redis, { ...container(containerId), now: Date.now(), timingsJson: "{}" });
  };
  const finish = (containerId: string, leaving = false) => finishInvocation.run(redis, { ...container(containerId), now: Date.now(), leaving });
  const retire = (containerId: string, keepAliveExpired: boolean) => retireContainer.run(redis, { ...container(containerId), keepAliveExpired });
  /** What the adapter's blocking read does: the next thing in its inbox moves to its running list. */
  const take = (containerId: string) => redis.lmove(keys.inbox(containerId), keys.running(containerId), "RIGHT", "LEFT");
  const idsOf = (raws: Buffer[]) => raws.map((raw) => decodeMessage<InvocationMeta>(raw).meta.id);
  const stateOf = async (containerId: string) => (await redis.hget(keys.containers, containerId))?.split("|")[0];
  const settle = () => new Promise((resolve) => setTimeout(resolve, 50));

  it("queues for the current version only and asks for a container when nobody will take the work", async () => {
    expect(await enqueue("a")).toEqual(["queued"]);
    expect(await enqueue("b", 9)).toEqual(["stale", "1"]);
    const ghost = functionKeys("ghost");
    expect(await enqueueInvocation.run(redis, { keys: ghost, fn: "ghost", envelope: envelope("c"), expectedVersion: 1, now: Date.now() })).toEqual(["missing"]);
    await eventually(async () => (events.includes(`work ${fn}`) ? true : undefined), 10_000, "a work event");
    expect(await redis.llen(keys.queue)).toBe(1);
  });

  it("hands work to the most recently idle container's inbox, and asks for no container meanwhile", async () => {
    expect(await register("c1")).toEqual({ kind: "wait" });
    expect(await register("c2")).toEqual({ kind: "wait" });
    expect(await redis.lrange(keys.idle, 0, -1)).toEqual(["c2", "c1"]);
    await enqueue("a");
    expect(idsOf(await redis.lrangeBuffer(keys.inbox("c2"), 0, -1))).toEqual(["a"]);
    expect(await stateOf("c2")).toBe("busy");
    // Done with it and idle again, it heads the list once more: the next request is its too.
    await take("c2");
    expect(await finish("c2")).toEqual({ kind: "wait" });
    expect(await redis.lrange(keys.idle, 0, -1)).toEqual(["c2", "c1"]);
    await enqueue("b");
    expect(idsOf(await redis.lrangeBuffer(keys.inbox("c2"), 0, -1))).toEqual(["b"]);
    expect(await redis.llen(keys.inbox("c1"))).toBe(0);
    expect(await redis.llen(keys.queue)).toBe(0);
    await settle();
    expect(events.filter((e) => e.startsWith("work"))).toEqual([]);
  });

  it("gives queued work to a container as it registers or finishes, oldest first, without a round trip", async () => {
    await enqueue("first");
    await enqueue("second");
    const registered = await register("c1");
    expect(registered.kind === "run" && idsOf([registered.envelope])).toEqual(["first"]);
    expect(idsOf(await redis.lrangeBuffer(keys.running("c1"), 0, -1))).toEqual(["first"]);
    const next = await finish("c1");
    expect(next.kind === "run" && idsOf([next.envelope])).toEqual(["second"]);
    expect(await stateOf("c1")).toBe("busy");
    expect(await finish("c1")).toEqual({ kind: "wait" });
    expect(await stateOf("c1")).toBe("idle");
  });

  it("reserves no more containers than queued work needs, and never more than the limit", async () => {
    await enqueue("a");
    expect(await reserve("c1")).toEqual({ kind: "reserved", container: { version: 1, codeSha: expect.stringMatching(/^[0-9a-f]{64}$/), runtime: "node", memoryMb: 256, ephemeralStorageMb: 512, network: "none" } });
    expect(await reserve("c2")).toEqual({ kind: "none" }); // one request, one starting container
    await enqueue("b");
    await enqueue("c");
    expect((await reserve("c2")).kind).toBe("reserved");
    expect((await reserve("c3")).kind).toBe("none"); // maxContainers: 2
    expect(Object.keys(await redis.hgetall(keys.containers)).sort()).toEqual(["c1", "c2"]);
  });

  it("claims nothing when the invoker's host has no room, and says how much memory the container needs", async () => {
    await enqueue("a");
    expect(await reserve("c1", { containers: 0, memoryMb: 100_000 })).toEqual({ kind: "full", memoryMb: 256 });
    expect(await reserve("c1", { containers: 5, memoryMb: 255 })).toEqual({ kind: "full", memoryMb: 256 });
    expect(await redis.hlen(keys.containers)).toBe(0);
    expect((await reserve("c1", { containers: 1, memoryMb: 256 })).kind).toBe("reserved");
    expect(await redis.hlen(keys.containers)).toBe(1);
  });

  it("does not count containers of an old version against the limit", async () => {
    await setState("old1", "busy", 0);
    await setState("old2", "busy", 0);
    await enqueue("a");
    expect((await reserve("c1")).kind).toBe("reserved");
  });

  it("retires a container after its request when the function was redeployed, and wakes the idle ones at the deploy", async () => {
    await register("idle1");
    await setState("c1", "busy");
    await redis.rpush(keys.running("c1"), envelope("a"));
    await deployFunction(redis, defaultQuotas, fn, { runtime: "node" }, await tarGz({ "index.js": "exports.handler = () => 2" }));
    expect(await redis.lrangeBuffer(keys.inbox("idle1"), 0, -1)).toEqual([WAKE]);
    expect(await redis.llen(keys.idle)).toBe(0);
    await take("idle1");
    expect(await retire("idle1", false)).toBe(true);
    expect(await redis.exists(keys.running("idle1"))).toBe(0);
    expect(await finish("c1")).toEqual({ kind: "exit" });
    expect(await redis.exists(keys.running("c1"))).toBe(0);
    expect(await redis.hlen(keys.containers)).toBe(0);
  });

  it("retires a container whose record an invoker released, or that leaves by itself, and does not bring the record back", async () => {
    await redis.rpush(keys.running("c1"), envelope("a"));
    expect(await finish("c1")).toEqual({ kind: "exit" });
    expect(await redis.hexists(keys.containers, "c1")).toBe(0);
    await register("c2");
    await enqueue("b");
    await take("c2");
    await enqueue("c");
    expect(await finish("c2", true)).toEqual({ kind: "exit" });
    expect(await redis.hlen(keys.containers)).toBe(0);
    expect(idsOf(await redis.lrangeBuffer(keys.queue, 0, -1))).toEqual(["c"]);
  });

  it("retires an idle container at the end of its keep-alive unless work reached its inbox, and when woken only if it must", async () => {
    await register("c1");
    expect(await retire("c1", false)).toBe(false);
    await enqueue("a");
    expect(await retire("c1", true)).toBe(false); // work came as its keep-alive ran out
    await take("c1");
    await finish("c1");
    expect(await retire("c1", true)).toBe(true);
    expect(await redis.hlen(keys.containers)).toBe(0);
    expect(await redis.llen(keys.idle)).toBe(0);
  });

  it("drains: an idle container is woken now, a busy one retires after its request", async () => {
    await register("idle1");
    await register("busy1");
    await enqueue("a"); // to busy1, the most recently idle
    expect(await markDraining.run(redis, { keys, containerIds: ["idle1", "busy1", "gone"] })).toBe(1);
    expect(await redis.lrangeBuffer(keys.inbox("idle1"), 0, -1)).toEqual([WAKE]);
    expect((await redis.smembers(keys.draining)).sort()).toEqual(["busy1", "idle1"]);
    await take("idle1");
    expect(await retire("idle1", false)).toBe(true);
    await take("busy1");
    expect(await finish("busy1")).toEqual({ kind: "exit" });
    expect(await redis.hlen(keys.containers)).toBe(0);
    expect(await redis.scard(keys.draining)).toBe(0);
  });

  it("answers a released container's running request, passes work in its inbox to another container, and fails queued work after a failed start", async () => {
    await register("c0");
    await register("c1");
    await enqueue("handed"); // into c1's inbox, not yet taken
    await redis.rpush(keys.running("c1"), envelope("running"));
    const release = (containerId: string, failQueuedWhenPoolEmpty: boolean) =>
      releaseContainer.run(redis, { ...container(containerId), failQueuedWhenPoolEmpty, now: Date.now(), retentionMs: 60_000, result: "{}", outcome: "platform_error" });
    const released = await release("c1", false);
    expect(idsOf(released.orphaned)).toEqual(["running"]);
    expect(released.failed).toEqual([]);
    expect(idsOf(await redis.lrangeBuffer(keys.inbox("c0"), 0, -1))).toEqual(["handed"]);
    // Should c1 still run, the wake-up in its inbox makes it retire.
    expect(await redis.lrangeBuffer(keys.inbox("c1"), 0, -1)).toEqual([WAKE]);

    await release("c0", false);
    expect(idsOf(await redis.lrangeBuffer(keys.queue, 0, -1))).toEqual(["handed"]);
    expect((await reserve("c2")).kind).toBe("reserved");
    const afterStart = await release("c2", true);
    expect(idsOf(afterStart.failed)).toEqual(["handed"]);
    expect(await redis.llen(keys.queue)).toBe(0);
  });

  it("keeps minWarm containers without work: asks for them at the deploy, and lets only the ones beyond them retire", async () => {
    await deployFunction(redis, defaultQuotas, fn, { runtime: "node", maxContainers: 3, minWarm: 2 }, await tarGz({ "index.js": "exports.handler = () => 1" }));
    const current = { ...container("w1"), version: 2 };
    const warm = (containerId: string) => ({ ...current, containerId });
    const reserved = async (containerId: string) => (await reserve(containerId)).kind;
    expect(await reserved("w1")).toBe("reserved");
    expect(await reserved("w2")).toBe("reserved");
    expect(await reserved("w3")).toBe("none"); // two kept warm, and no work
    await redis.lpush(keys.queue, envelope("a", 2), envelope("b", 2), envelope("c", 2));
    expect(await reserved("w3")).toBe("reserved"); // more work than the two starting will take
    await redis.del(keys.queue);
    for (const containerId of ["w1", "w2", "w3"]) {
      expect(await registerContainer.run(redis, { ...warm(containerId), now: Date.now(), timingsJson: "{}" })).toEqual({ kind: "wait" });
    }
    const expire = (containerId: string) => retireContainer.run(redis, { ...warm(containerId), keepAliveExpired: true });
    expect(await expire("w3")).toBe(true);
    expect(await expire("w2")).toBe(false);
    expect(await expire("w1")).toBe(false);
    expect((await redis.hkeys(keys.containers)).sort()).toEqual(["w1", "w2"]);
  });

  it("never reuses a version after a function is deleted and created again", async () => {
    const code = await tarGz({ "index.js": "exports.handler = () => 3" });
    // The deploy in beforeEach was version 1.
    await deleteFunction(redis, fn, 60_000);
    const again = await deployFunction(redis, defaultQuotas, fn, functionConfigSchema.parse({ runtime: "node" }), code);
    expect(again).toMatchObject({ created: true, definition: { version: 2 } });
  });

  it("subscribes a function to a stream once, writes nothing for a key that is not a stream, and drops its groups on unsubscribe and delete", async () => {
    const groupsOf = async (stream: string) => ((await redis.xinfo("GROUPS", stream)) as unknown[][]).map((fields) => fields[1]);
    expect(await subscribeStream(redis, fn, "s1", { startFrom: "oldest" })).toMatchObject({ created: true, subscription: { stream: "s1", startFrom: "oldest" } });
    expect(await subscribeStream(redis, fn, "s1", {})).toMatchObject({ created: false, subscription: { startFrom: "oldest" } });
    expect(await groupsOf("s1")).toEqual([streamGroup(fn)]);
    await eventually(async () => (events.includes(`streams ${fn}`) ? true : undefined), 10_000, "a streams event");

    await redis.set("plain", "x");
    await expect(subscribeStream(redis, fn, "plain", {})).rejects.toMatchObject({ status: 409, errorType: "NotAStream" });
    expect(await redis.hkeys(keys.streams)).toEqual(["s1"]);

    // A deleted stream gets its group back while the subscription stands, and not after it is gone.
    const restore = () => restoreGroup(redis, fn, "s1");
    await redis.del("s1");
    expect(await restore()).toBe(true);
    expect(await groupsOf("s1")).toEqual([streamGroup(fn)]);
    expect(await unsubscribeStream(redis, fn, "s1")).toBe(true);
    expect(await unsubscribeStream(redis, fn, "s1")).toBe(false);
    expect(await groupsOf("s1")).toEqual([]);
    expect(await restore()).toBe(false);
    expect(await groupsOf("s1")).toEqual([]);

    await subscribeStream(redis, fn, "s2", {});
    await redis.xgroup("CREATE", "s2", "someone-else", "$");
    await deleteFunction(redis, fn, 60_000);
    expect(await groupsOf("s2")).toEqual(["someone-else"]);
    expect(await redis.exists(keys.streams)).toBe(0);
  });

  it("backs a failing async invocation off exponentially with jitter, then dead-letters it", async () => {
    await deployFunction(redis, defaultQuotas, fn, { runtime: "node", maxRetries: 3, retryDelay: 1 }, await tarGz({ "index.js": "exports.handler = () => 1" }));
    const version = 2;
    const record = keys.invocation("job-1");
    await enqueueAsyncInvocation.run(redis, { keys, fn, id: "job-1", payload: Buffer.from("{}"), expectedVersion: version, now: 1000, retentionMs: 60_000 });
    // One attempt as a container makes it: take the envelope, mark it started, settle it failed at `now`.
    const failAt = async (now: number, jitter: number) => {
      const envelope = (await redis.lmoveBuffer(keys.queue, keys.running("c1"), "RIGHT", "LEFT"))!;
      const { meta } = decodeMessage<InvocationMeta>(envelope);
      await startAsyncInvocation.run(redis, { keys, id: "job-1", containerId: "c1", now });
      // The jitter is the script's draw: stand in for Math.random.
      const random = Math.random;
      Math.random = () => jitter;
      try {
        await settleAsyncInvocation.run(redis, { keys, fn, id: "job-1", containerId: "c1", statusCode: 502, result: '{"errorType":"E"}', now, retentionMs: 60_000, outcome: "function_error", runMs: 10 });
      } finally {
        Math.random = random;
      }
      return meta;
    };
    const promote = (now: number) => promoteDueRetries.run(redis, { keys, fn, now, maxCount: 100 });

    // Backoff 1 s, 2 s, 4 s: half of it fixed, half times the jitter.
    expect((await failAt(10_000, 0)).attempt).toBe(1);
    expect(await redis.zscore(keys.retries, "job-1")).toBe(String(10_000 + 500));
    expect(await promote(10_499)).toBe(10_500);
    expect(await redis.llen(keys.queue)).toBe(0);
    expect(await promote(10_500)).toBeUndefined();
    expect(await redis.hget(record, "status")).toBe("queued");

    expect((await failAt(20_000, 1)).attempt).toBe(2);
    expect(await redis.zscore(keys.retries, "job-1")).toBe(String(20_000 + 2000));
    await promote(22_000);
    expect((await failAt(30_000, 0.5)).attempt).toBe(3);
    expect(await redis.zscore(keys.retries, "job-1")).toBe(String(30_000 + 3000));
    await promote(33_000);

    // The fourth attempt fails with no retry left.
    const last = await failAt(40_000, 0);
    expect(last.attempt).toBe(4);
    expect(await redis.zcard(keys.retries)).toBe(0);
    expect(await redis.zscore(keys.deadLetters, "job-1")).toBe("40000");
    expect(await redis.hmget(record, "status", "attempts")).toEqual(["dead-lettered", "4"]);
    // Each attempt counted by its outcome, and its run time added up (the metrics' hearth_async_invocations_total, hearth_async_execution_seconds_total).
    expect(await redis.hgetall(keys.stats)).toEqual({ retries: "3", deadLettered: "1", "async:function_error": "4", "async:runMs": "40" });
    expect(await redis.exists(keys.running("c1"))).toBe(0);
  });
});
