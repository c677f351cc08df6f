// The Lua scripts on a real redis-server: the scaling decisions and state changes every invoker and
// container rely on.

import { Redis } from "ioredis";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { subscribeStream, unsubscribeStream } from "../../gateway/async/stream-subscriptions.js";
import { functionConfigSchema } from "../../gateway/functions/config-schema.js";
import { deleteFunction, deployFunction } from "../../gateway/functions/registry.js";
import { formatContainerRecord, type ContainerState } from "../../gateway/protocol/container-record.js";
import { decodeMessage, encodeMessage, type InvocationMeta } from "../../gateway/protocol/envelope.js";
import { EVENTS_CHANNEL, functionKeys, streamGroup } from "../../gateway/protocol/keys.js";
import { scripts } from "../../gateway/protocol/scripts.js";
import type { EmbeddedRedis } from "../../gateway/redis/embedded-redis.js";
import { defaultQuotas, eventually, startTestRedis } from "../support/hearth.js";
import { tarGz } from "../support/packages.js";

let server: EmbeddedRedis;
let redis: Redis;
let subscriber: Redis;
const events: string[] = [];
const fn = "pool-fn";
const keys = functionKeys(fn);

beforeAll(async () => {
  server = await startTestRedis();
  redis = new Redis(server.url);
  subscriber = new Redis(server.url);
  subscriber.on("message", (_channel: string, message: string) => events.push(message));
  await subscriber.subscribe(EVENTS_CHANNEL);
});

afterAll(async () => {
  redis?.disconnect();
  subscriber?.disconnect();
  await server?.stop();
});

beforeEach(async () => {
  await redis.flushall();
  events.length = 0;
  await deployFunction(redis, defaultQuotas, fn, { runtime: "node", maxContainers: 2 }, await tarGz({ "index.js": "exports.handler = () => 1" }));
});

function envelope(id: string, version = 1): Buffer {
  const meta: InvocationMeta = { id, function: fn, version, replyTo: "gw", enqueuedAt: Date.now(), startBy: Date.now() + 10_000 };
  return encodeMessage(meta, "{}");
}

const enqueue = (id: string, version = 1) => scripts.enqueueInvocation.run(redis, [keys.def, keys.queue, keys.containers, keys.asyncQueued], [envelope(id, version), version, fn]);
/** Free on the invoker's host: containers and MiB. */
const reserve = (containerId: string, free = { containers: 100, memoryMb: 100_000 }) =>
  scripts.reserveContainer.run(redis, [keys.def, keys.queue, keys.containers], [containerId, "inv", Date.now(), free.containers, free.memoryMb]);
const setState = (containerId: string, state: ContainerState, version = 1) =>
  redis.hset(keys.containers, containerId, formatContainerRecord({ state, version, invokerId: "inv", clientId: 0, since: Date.now() }));
const settle = () => new Promise((resolve) => setTimeout(resolve, 50));

describe("Lua scripts", () => {
  it("queues for the current version only and asks for a container when nobody will take the work", async () => {
    expect(await enqueue("a")).toEqual(["queued"]);
    expect(await scripts.enqueueInvocation.run(redis, [keys.def, keys.queue, keys.containers, keys.asyncQueued], [envelope("b", 9), 9, fn])).toEqual(["stale", "1"]);
    const missing = functionKeys("ghost");
    expect(await scripts.enqueueInvocation.run(redis, [missing.def, missing.queue, missing.containers, missing.asyncQueued], [envelope("c"), 1, "ghost"])).toEqual(["missing"]);
    await eventually(async () => (events.includes(`work ${fn}`) ? true : undefined), 10_000, "a work event");
    expect(await redis.llen(keys.queue)).toBe(1);
  });

  it("does not ask for a container while an idle one will take the request", async () => {
    await setState("c1", "idle");
    await enqueue("a");
    await settle();
    expect(events.filter((e) => e.startsWith("work"))).toEqual([]);
  });

  it("reserves no more containers than queued work needs, and never more than the limit", async () => {
    await enqueue("a");
    expect(await reserve("c1")).toEqual(["1", expect.stringMatching(/^[0-9a-f]{64}$/), "node", "256", "512", "none"]);
    expect(await reserve("c2")).toBeNull(); // one request, one starting container
    await enqueue("b");
    await enqueue("c");
    expect(await reserve("c2")).not.toBeNull();
    expect(await reserve("c3")).toBeNull(); // maxContainers: 2
    expect(Object.keys(await redis.hgetall(keys.containers)).sort()).toEqual(["c1", "c2"]);
  });

  it("claims nothing when the invoker's host has no room, and says how much memory the container needs", async () => {
    await enqueue("a");
    expect(await reserve("c1", { containers: 0, memoryMb: 100_000 })).toEqual(["full", "256"]);
    expect(await reserve("c1", { containers: 5, memoryMb: 255 })).toEqual(["full", "256"]);
    expect(await redis.hlen(keys.containers)).toBe(0);
    expect(await reserve("c1", { containers: 1, memoryMb: 256 })).not.toBeNull();
    expect(await redis.hlen(keys.containers)).toBe(1);
  });

  it("does not count containers of an old version against the limit", async () => {
    await setState("old1", "busy", 0);
    await setState("old2", "busy", 0);
    await enqueue("a");
    expect(await reserve("c1")).not.toBeNull();
  });

  it("retires a container after its request when the function was redeployed", async () => {
    await setState("c1", "busy");
    await redis.rpush(keys.running("c1"), envelope("a"));
    const finish = () =>
      scripts.finishInvocation.run(redis, [keys.def, keys.queue, keys.containers, keys.draining, keys.running("c1")], ["c1", 1, formatContainerRecord({ state: "idle", version: 1, invokerId: "inv", clientId: 0, since: 0 }), fn]);
    expect(await finish()).toBe(1);
    expect(await redis.exists(keys.running("c1"))).toBe(0);
    await deployFunction(redis, defaultQuotas, fn, { runtime: "node" }, await tarGz({ "index.js": "exports.handler = () => 2" }));
    expect(await finish()).toBe(0);
    expect(await redis.hexists(keys.containers, "c1")).toBe(0);
  });

  it("retires a container whose record an invoker released, and does not bring the record back", async () => {
    await redis.rpush(keys.running("c1"), envelope("a"));
    await scripts.startInvocation.run(redis, [keys.def, keys.queue, keys.containers, keys.asyncQueued], ["c1", formatContainerRecord({ state: "busy", version: 1, invokerId: "inv", clientId: 0, since: 0 }), fn]);
    expect(await redis.hexists(keys.containers, "c1")).toBe(0);
    const keep = await scripts.finishInvocation.run(redis, [keys.def, keys.queue, keys.containers, keys.draining, keys.running("c1")], ["c1", 1, formatContainerRecord({ state: "idle", version: 1, invokerId: "inv", clientId: 0, since: 0 }), fn]);
    expect(keep).toBe(0);
    expect(await redis.hexists(keys.containers, "c1")).toBe(0);
  });

  it("keeps an unblocked idle container unless it is stale or draining, and retires it when its keep-alive ran out", async () => {
    const retire = (expired: string) => scripts.retireContainer.run(redis, [keys.def, keys.queue, keys.containers, keys.draining], ["c1", 1, expired, fn]);
    await setState("c1", "idle");
    expect(await retire("0")).toBe(0);
    await redis.sadd(keys.draining, "c1");
    expect(await retire("0")).toBe(1);
    await setState("c1", "idle");
    expect(await retire("1")).toBe(1);
    expect(await redis.hlen(keys.containers)).toBe(0);
  });

  it("puts a request meant for a newer version back at the head of the queue", async () => {
    await enqueue("first");
    await redis.rpush(keys.running("c1"), envelope("newer"));
    await setState("c1", "busy");
    await scripts.requeueInvocation.run(redis, [keys.def, keys.queue, keys.containers, keys.draining, keys.running("c1")], ["c1", fn]);
    const head = (await redis.lindexBuffer(keys.queue, -1))!;
    expect(decodeMessage<InvocationMeta>(head).meta.id).toBe("newer");
    expect(await redis.hexists(keys.containers, "c1")).toBe(0);
  });

  it("hands back a released container's running request, and fails queued work after a failed start", async () => {
    await setState("c1", "busy");
    await redis.rpush(keys.running("c1"), envelope("running"));
    await enqueue("waiting");
    const release = (containerId: string, failQueued: string) =>
      scripts.releaseContainer.runBuffer(
        redis,
        [keys.def, keys.queue, keys.containers, keys.draining, keys.running(containerId), keys.asyncQueued, keys.retries, keys.deadLetters, keys.callbacks, keys.stats],
        [containerId, fn, failQueued, Date.now(), 0.5, 60_000, keys.invocationPrefix, "{}", "{}", "platform_error"],
      ) as Promise<[Buffer[], Buffer[]]>;
    const [orphaned, failed] = await release("c1", "0");
    expect(orphaned.map((raw) => decodeMessage<InvocationMeta>(raw).meta.id)).toEqual(["running"]);
    expect(failed).toEqual([]);
    expect(await redis.llen(keys.queue)).toBe(1);

    await reserve("c2");
    const [, failedAfterStart] = await release("c2", "1");
    expect(failedAfterStart.map((raw) => decodeMessage<InvocationMeta>(raw).meta.id)).toEqual(["waiting"]);
    expect(await redis.llen(keys.queue)).toBe(0);
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
    const restore = () => scripts.restoreStreamGroup.run(redis, [keys.streams, "s1"], ["s1", streamGroup(fn)]);
    await redis.del("s1");
    expect(await restore()).toBe(1);
    expect(await groupsOf("s1")).toEqual([streamGroup(fn)]);
    expect(await unsubscribeStream(redis, fn, "s1")).toBe(true);
    expect(await unsubscribeStream(redis, fn, "s1")).toBe(false);
    expect(await groupsOf("s1")).toEqual([]);
    expect(await restore()).toBe(0);
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
    await scripts.enqueueAsyncInvocation.run(redis, [keys.def, keys.queue, keys.containers, keys.asyncQueued, keys.retries, record], ["job-1", "{}", version, fn, 1000, 60_000, "", "", ""]);
    // One attempt as a container makes it: take the envelope, mark it started, settle it failed at `now`.
    const failAt = async (now: number, jitter: number) => {
      const envelope = (await redis.lmoveBuffer(keys.queue, keys.running("c1"), "RIGHT", "LEFT"))!;
      const { meta } = decodeMessage<InvocationMeta>(envelope);
      await scripts.startInvocation.run(redis, [keys.def, keys.queue, keys.containers, keys.asyncQueued, record], ["c1", "busy", fn, "job-1", now]);
      await scripts.settleAsyncInvocation.run(redis, [keys.def, keys.running("c1"), keys.retries, keys.deadLetters, keys.callbacks, keys.stats, record], ["job-1", 502, '{"errorType":"E"}', now, jitter, 60_000, fn, "function_error", 10]);
      return meta;
    };
    const promote = (now: number) => scripts.promoteDueRetries.run(redis, [keys.def, keys.queue, keys.containers, keys.retries, keys.asyncQueued], [now, fn, keys.invocationPrefix, 100]);

    // Backoff 1 s, 2 s, 4 s: half of it fixed, half times the jitter.
    expect((await failAt(10_000, 0)).attempt).toBe(1);
    expect(await redis.zscore(keys.retries, "job-1")).toBe(String(10_000 + 500));
    expect(await promote(10_499)).toBe(String(10_500));
    expect(await redis.llen(keys.queue)).toBe(0);
    expect(await promote(10_500)).toBeNull();
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
