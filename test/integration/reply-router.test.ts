// Results reach the request that waits for them through one blocked connection per gateway.

import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ReplyRouter } from "../../gateway/invocation/reply-router.js";
import { createLogger } from "../../gateway/logger.js";
import { encodeMessage } from "../../gateway/protocol/envelope.js";
import { pushReplies } from "../../gateway/protocol/replies.js";
import type { EmbeddedRedis } from "../../gateway/redis/embedded-redis.js";
import { startTestRedis } from "../support/hearth.js";

let server: EmbeddedRedis;
let producer: Redis;

beforeAll(async () => {
  server = await startTestRedis();
  producer = new Redis(server.url);
});

afterAll(async () => {
  producer?.disconnect();
  await server?.stop();
});

describe("ReplyRouter", () => {
  it("routes a thousand results pushed in any order to their waiters", async () => {
    const router = new ReplyRouter(new Redis(server.url), "gw-a", createLogger("test"));
    router.start();
    const ids = Array.from({ length: 1000 }, (_, i) => `id-${i}`);
    const waits = ids.map((id) => router.waitFor(id, "fn", 20_000));
    const shuffled = [...ids].sort(() => Math.random() - 0.5);
    await pushReplies(producer, "gw-a", shuffled.map((id) => encodeMessage({ id, function: "fn", status: 200 }, JSON.stringify(id))));
    const results = await Promise.all(waits);
    expect(results.map((r) => JSON.parse(r!.payload.toString()))).toEqual(ids);
    expect(router.inFlight).toBe(0);
    await router.stop();
  });

  it("gives up on a result that does not come, ignores it when it comes late, and drops another function's answer", async () => {
    const router = new ReplyRouter(new Redis(server.url), "gw-b", createLogger("test"));
    router.start();
    expect(await router.waitFor("late", "fn", 100)).toBeUndefined();
    await pushReplies(producer, "gw-b", [encodeMessage({ id: "late", function: "fn", status: 200 }, "1")]);
    const next = router.waitFor("next", "fn", 20_000);
    // Another function's answer to the same id (a forgery) is dropped; the request's own is delivered.
    await pushReplies(producer, "gw-b", [encodeMessage({ id: "next", function: "other", status: 200 }, "forged"), encodeMessage({ id: "next", function: "fn", status: 200 }, "2")]);
    expect((await next)?.payload.toString()).toBe("2");
    void router.waitFor("never-queued", "fn", 20_000);
    router.cancel("never-queued");
    expect(router.inFlight).toBe(0);
    await router.stop();
  });

  it("keeps results for another gateway on that gateway's list", async () => {
    await pushReplies(producer, "gw-absent", [encodeMessage({ id: "x", function: "fn", status: 200 }, "1")]);
    expect(await producer.llen("hearth:replies:{gw-absent}")).toBe(1);
    expect(await producer.pttl("hearth:replies:{gw-absent}")).toBeGreaterThan(0);
  });
});
