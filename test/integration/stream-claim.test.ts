// The stream reader's claim as the acknowledgement of last resort, on a real redis-server: whoever makes
// a stream-triggered invocation final XACKs its entry after the script that did it (a command of its
// own, gateway/protocol/stream-sources.ts). A process that dies in between leaves the entry pending;
// the reader that claims it (HEARTH_STREAM_CLAIM_IDLE_MS) must find its invocation final and
// acknowledge it, and must not acknowledge it before.

import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AsyncInvocations } from "../../gateway/async/async-invocations.js";
import { CallbackDestinations } from "../../gateway/async/callback-destinations.js";
import { StreamTriggers } from "../../gateway/async/stream-triggers.js";
import { subscribeStream } from "../../gateway/async/stream-subscriptions.js";
import { FunctionCache } from "../../gateway/functions/function-cache.js";
import { deployFunction } from "../../gateway/functions/registry.js";
import { createLogger } from "../../gateway/logger.js";
import { settleAsyncInvocation } from "../../gateway/protocol/async-lifecycle.js";
import { decodeMessage, type InvocationMeta } from "../../gateway/protocol/envelope.js";
import { functionKeys, streamGroup } from "../../gateway/protocol/keys.js";
import type { EmbeddedRedis } from "../../gateway/redis/embedded-redis.js";
import { ReplicatedWrites } from "../../gateway/redis/replicated-writes.js";
import { defaultQuotas, eventually, startTestRedis } from "../support/hearth.js";
import { tarGz } from "../support/packages.js";

const fn = "ledger";
const keys = functionKeys(fn);
const stream = "payments";
const CLAIM_IDLE_MS = 300;

let server: EmbeddedRedis;
let redis: Redis;
let triggers: StreamTriggers;

beforeAll(async () => {
  server = await startTestRedis();
  redis = new Redis(server.url);
  await deployFunction(redis, defaultQuotas, fn, { runtime: "node" }, await tarGz({ "index.js": "exports.handler = () => 1" }));
  await subscribeStream(redis, fn, stream, { startFrom: "oldest" });
  const invocations = new AsyncInvocations(redis, new FunctionCache(redis), 60_000, new CallbackDestinations([], "127.0.0.1"), new ReplicatedWrites(redis, 0, 1_000));
  triggers = new StreamTriggers(redis, invocations, { redis: { url: server.url }, consumer: "gateway-1", claimIdleMs: CLAIM_IDLE_MS }, createLogger("test"));
  triggers.start(30_000);
});

afterAll(async () => {
  await triggers?.stop();
  redis?.disconnect();
  await server?.stop();
});

const pending = async () => ((await redis.xpending(stream, streamGroup(fn))) as [number])[0];
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("an entry whose acknowledgement was lost", () => {
  it("stays pending while its invocation is not final, and is acknowledged by a claim once it is", async () => {
    await redis.xadd(stream, "*", "amount", "12");
    const envelope = await eventually(async () => (await redis.lmoveBuffer(keys.queue, keys.running("c1"), "RIGHT", "LEFT")) ?? undefined, 10_000, "the entry's invocation queued");
    const { meta } = decodeMessage<InvocationMeta>(envelope);

    // Claimed again and again meanwhile: its invocation is queued, then running, not final.
    await sleep(CLAIM_IDLE_MS * 4);
    expect(await pending()).toBe(1);
    expect(await redis.hget(keys.invocation(meta.id), "status")).toBe("queued");

    // Its container settles it and dies before its XACK.
    const settled = await settleAsyncInvocation.run(redis, { keys, fn, id: meta.id, containerId: "c1", statusCode: 200, result: "1", now: Date.now(), retentionMs: 60_000, outcome: "success", runMs: 3 });
    expect(settled.sources).toHaveLength(1);
    expect(await pending()).toBe(1);

    await eventually(async () => ((await pending()) === 0 ? true : undefined), 10_000, "the claim to acknowledge the entry");
    // Accepted once: the claims answered with the first invocation, never queued another.
    expect(await redis.llen(keys.queue)).toBe(0);
    expect(await redis.hget(keys.invocation(meta.id), "status")).toBe("succeeded");
  });
});
