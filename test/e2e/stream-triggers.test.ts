// Redis Stream triggers end to end on a real redis-server and Docker: a producer XADDs, each entry
// invokes the subscribed function once and is acknowledged when its invocation is final; retries and
// dead letters, startFrom, unsubscribe, backpressure, a restart, and bad input.

import { randomBytes } from "node:crypto";
import { Redis } from "ioredis";
import { afterAll, describe, expect, it } from "vitest";
import { finalRecord, getInvocation, request, startReceiver } from "../support/async.js";
import { startGate } from "../support/barrier.js";
import { streamHandler } from "../support/functions.js";
import { adminHeaders, deploy, eventually, invoke, startTestHearth, startTestRedis, useTestHearth } from "../support/hearth.js";

const h = useTestHearth({ containerNetworks: ["host"] });
const closers: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const close of closers.reverse()) await close();
});

interface Report {
  function: string;
  requestId: string;
  event: { stream: string; id: string; fields: Record<string, string> };
}

async function receiver() {
  const started = await startReceiver();
  closers.push(started.close);
  return { ...started, reports: (): Report[] => started.calls.map((call) => JSON.parse(call.body) as Report) };
}

async function deployConsumer(url: string, name: string, settings: object = {}): Promise<void> {
  expect((await deploy(url, name, { runtime: "node", network: "host", ...settings }, { "index.js": streamHandler() })).status).toBe(201);
}

function subscribe(url: string, fn: string, stream: string, body?: unknown) {
  return request(url, "PUT", `/system/functions/${fn}/streams/${encodeURIComponent(stream)}`, body);
}

/** Resolves once the function's group has read every entry of the stream and each one's invocation is final. */
async function drained(url: string, fn: string, stream: string): Promise<void> {
  await eventually(
    async () => {
      const { body } = await request(url, "GET", `/system/functions/${fn}/streams`);
      const subscription = body.subscriptions.find((s: { stream: string }) => s.stream === stream);
      return subscription.pending === 0 && subscription.lag === 0 ? true : undefined;
    },
    30_000,
    `${fn} to settle every entry of ${stream}`,
  );
}

async function reportsFor(reports: () => Report[], count: number): Promise<Report[]> {
  return eventually(async () => (reports().length >= count ? reports() : undefined), 30_000, `${count} executions`);
}

describe("stream triggers", () => {
  it("invokes the function once per entry with the entry as its event, and acknowledges each once it succeeded", async () => {
    await deployConsumer(h.url, "consumer");
    const created = await subscribe(h.url, "consumer", "orders");
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ stream: "orders", startFrom: "new" });
    // Subscribing again keeps the subscription as it is.
    const again = await subscribe(h.url, "consumer", "orders", { startFrom: "oldest" });
    expect(again.status).toBe(200);
    expect(again.body).toEqual(created.body);

    const { url: reportUrl, reports } = await receiver();
    const ids: string[] = [];
    for (let n = 1; n <= 5; n += 1) ids.push((await h.client.xadd("orders", "*", "report", reportUrl, "n", String(n)))!);
    await reportsFor(reports, 5);
    await drained(h.url, "consumer", "orders");

    const executions = reports();
    expect(executions).toHaveLength(5);
    expect(executions.map((r) => r.event).sort((a, b) => a.id.localeCompare(b.id))).toEqual(
      ids.map((id, i) => ({ stream: "orders", id, fields: { report: reportUrl, n: String(i + 1) } })),
    );
    expect(new Set(executions.map((r) => r.requestId)).size).toBe(5);
    for (const { requestId, event } of executions) {
      expect(await getInvocation(h.url, requestId)).toMatchObject({ status: "succeeded", attempts: 1, result: { entry: event.id } });
    }
    expect(await h.client.xpending("orders", "hearth:consumer")).toEqual([0, null, null, null]);
    const listed = await request(h.url, "GET", "/system/functions/consumer/streams");
    expect(listed.body).toEqual({
      subscriptions: [{ stream: "orders", startFrom: "new", subscribedAt: created.body.subscribedAt, pending: 0, lag: 0, lastDeliveredId: ids[4] }],
    });
  });

  it("retries a failing entry per the function's settings, dead-letters it and acknowledges it", async () => {
    await deployConsumer(h.url, "picky", { maxRetries: 1, retryDelay: 0.1 });
    await subscribe(h.url, "picky", "tasks");
    const { url: reportUrl, reports } = await receiver();
    const bad = await h.client.xadd("tasks", "*", "report", reportUrl, "fail", "cannot do this one");
    const good = await h.client.xadd("tasks", "*", "report", reportUrl);
    await reportsFor(reports, 3);
    await drained(h.url, "picky", "tasks");

    const attempts = reports().filter((r) => r.event.id === bad);
    expect(attempts).toHaveLength(2);
    expect(attempts[1]!.requestId).toBe(attempts[0]!.requestId);
    expect(reports().filter((r) => r.event.id === good)).toHaveLength(1);
    const record = await finalRecord(h.url, attempts[0]!.requestId);
    expect(record).toMatchObject({ status: "dead-lettered", attempts: 2, error: { errorMessage: "cannot do this one" } });
    const deadLetters = await request(h.url, "GET", "/system/functions/picky/dead-letters");
    expect(deadLetters.body.invocations.map((i: { id: string }) => i.id)).toEqual([attempts[0]!.requestId]);
    expect((await h.client.xpending("tasks", "hearth:picky"))[0]).toBe(0);
  });

  it("starts from the stream's first entry with startFrom oldest, and from new entries by default", async () => {
    const { url: reportUrl, reports } = await receiver();
    const before = await h.client.xadd("backlog", "*", "report", reportUrl);
    await deployConsumer(h.url, "early");
    await deployConsumer(h.url, "late");
    expect((await subscribe(h.url, "early", "backlog", { startFrom: "oldest" })).body).toMatchObject({ startFrom: "oldest" });
    expect((await subscribe(h.url, "late", "backlog")).body).toMatchObject({ startFrom: "new" });
    const after = await h.client.xadd("backlog", "*", "report", reportUrl);
    await drained(h.url, "early", "backlog");
    await drained(h.url, "late", "backlog");

    const seenBy = (fn: string) => reports().filter((r) => r.function === fn).map((r) => r.event.id).sort();
    expect(seenBy("early")).toEqual([before, after]);
    expect(seenBy("late")).toEqual([after]);
  });

  it("stops invoking a function unsubscribed from a stream, and keeps its other subscriptions", async () => {
    await deployConsumer(h.url, "fickle");
    await subscribe(h.url, "fickle", "first");
    await subscribe(h.url, "fickle", "second");
    const { url: reportUrl, reports } = await receiver();
    await h.client.xadd("first", "*", "report", reportUrl);
    await reportsFor(reports, 1);
    await drained(h.url, "fickle", "first");

    expect((await request(h.url, "DELETE", "/system/functions/fickle/streams/first")).status).toBe(204);
    const twice = await request(h.url, "DELETE", "/system/functions/fickle/streams/first");
    expect(twice.status).toBe(404);
    expect(twice.body).toMatchObject({ errorType: "SubscriptionNotFound" });
    expect((await request(h.url, "GET", "/system/functions/fickle/streams")).body.subscriptions.map((s: { stream: string }) => s.stream)).toEqual(["second"]);

    await h.client.xadd("first", "*", "report", reportUrl, "n", "ignored");
    const kept = await h.client.xadd("second", "*", "report", reportUrl);
    await drained(h.url, "fickle", "second");
    // The stream stays (it is the producer's); the function's group on it is gone.
    expect(await h.client.xlen("first")).toBe(2);
    expect(await h.client.xinfo("GROUPS", "first")).toEqual([]);
    expect(reports().map((r) => r.event.stream)).toEqual(["first", "second"]);
    expect(reports()[1]!.event.id).toBe(kept);
  });

  it("leaves entries in the stream while the function's async queue is full, and runs each once later", async () => {
    await deployConsumer(h.url, "narrow", { maxContainers: 1, maxQueuedAsync: 1 });
    await subscribe(h.url, "narrow", "burst");
    const { url: reportUrl, reports } = await receiver();
    const gate = await startGate();
    closers.push(async () => {
      gate.open();
      await gate.close();
    });
    const ids: string[] = [];
    for (let n = 0; n < 6; n += 1) ids.push((await h.client.xadd("burst", "*", "report", reportUrl, "gate", gate.url))!);
    // One runs (held at the gate), one waits in the queue, the others are turned away and stay pending.
    await reportsFor(reports, 1);
    await eventually(async () => ((await request(h.url, "GET", "/system/functions/narrow")).body.queued === 1 ? true : undefined), 30_000, "a full queue");
    gate.open();
    await drained(h.url, "narrow", "burst");
    expect(reports().map((r) => r.event.id).sort()).toEqual(ids);
  });

  it("drops a deleted function's subscriptions and consumer groups", async () => {
    expect((await request(h.url, "DELETE", "/system/functions/fickle")).status).toBe(204);
    expect(await h.client.xinfo("GROUPS", "second")).toEqual([]);
    await deployConsumer(h.url, "fickle");
    expect((await request(h.url, "GET", "/system/functions/fickle/streams")).body).toEqual({ subscriptions: [] });
  });

  it("answers bad requests with clear errors", async () => {
    const expectError = async (answer: Promise<{ status: number; body: any }>, status: number, errorType: string) => {
      const { status: got, body } = await answer;
      expect({ status: got, errorType: body?.errorType }).toEqual({ status, errorType });
      expect(typeof body.errorMessage).toBe("string");
    };
    await expectError(subscribe(h.url, "ghost", "s"), 404, "FunctionNotFound");
    await expectError(request(h.url, "GET", "/system/functions/ghost/streams"), 404, "FunctionNotFound");
    await expectError(request(h.url, "DELETE", "/system/functions/ghost/streams/s"), 404, "FunctionNotFound");
    await expectError(subscribe(h.url, "consumer", "hearth:functions"), 400, "InvalidStreamName");
    await expectError(subscribe(h.url, "consumer", "x".repeat(201)), 400, "InvalidStreamName");
    await expectError(subscribe(h.url, "consumer", "with space"), 400, "InvalidStreamName");
    await expectError(subscribe(h.url, "consumer", "s", { startFrom: "middle" }), 400, "InvalidRequestContent");
    await expectError(subscribe(h.url, "consumer", "s", { startFrom: "new", group: "mine" }), 400, "InvalidRequestContent");
    const notJson = fetch(`${h.url}/system/functions/consumer/streams/s`, { method: "PUT", headers: { ...adminHeaders, "content-type": "application/json" }, body: "{not json" });
    await expectError(notJson.then(async (r) => ({ status: r.status, body: await r.json() })), 400, "InvalidRequestContent");
    await h.client.set("plain-key", "not a stream");
    await expectError(subscribe(h.url, "consumer", "plain-key"), 409, "NotAStream");
    await expectError(request(h.url, "DELETE", "/system/functions/consumer/streams/never"), 404, "SubscriptionNotFound");
    // Nothing was subscribed by the rejected requests.
    const listed = await request(h.url, "GET", "/system/functions/consumer/streams");
    expect(listed.body.subscriptions.map((s: { stream: string }) => s.stream)).toEqual(["orders"]);
  });

  it("recreates its consumer group when the stream is deleted, and runs the entries added to it afterwards", async () => {
    expect(await h.client.del("orders")).toBe(1);
    const { url: reportUrl, reports } = await receiver();
    const added = await h.client.xadd("orders", "*", "report", reportUrl);
    const [execution] = await reportsFor(reports, 1);
    expect(execution!.event.id).toBe(added);
    await drained(h.url, "consumer", "orders");
    expect(reports()).toHaveLength(1);
  });

  it("keeps going across a restart: entries added while no Hearth ran, or read but never accepted, each run once", async () => {
    const redis = await startTestRedis();
    closers.push(redis.stop);
    const producer = new Redis(redis.url);
    closers.push(async () => producer.disconnect());
    const { url: reportUrl, reports } = await receiver();
    const consumer = `test-${randomBytes(4).toString("hex")}`;

    const first = await startTestHearth(redis, { invokerId: consumer, containerNetworks: ["host"] });
    let processedFirst: string;
    try {
      await deployConsumer(first.url, "worker");
      await subscribe(first.url, "worker", "jobs");
      processedFirst = (await producer.xadd("jobs", "*", "report", reportUrl))!;
      await reportsFor(reports, 1);
      await drained(first.url, "worker", "jobs");
    } finally {
      await first.stop();
    }

    // While no Hearth runs: new entries, one read by this consumer (as if the first Hearth had read it
    // and stopped before accepting it), one read by a consumer that never comes back.
    const added: string[] = [];
    for (let n = 0; n < 4; n += 1) added.push((await producer.xadd("jobs", "*", "report", reportUrl))!);
    await producer.xreadgroup("GROUP", "hearth:worker", consumer, "COUNT", 1, "STREAMS", "jobs", ">");
    await producer.xreadgroup("GROUP", "hearth:worker", "gone-for-good", "COUNT", 1, "STREAMS", "jobs", ">");

    const second = await startTestHearth(redis, { invokerId: consumer, streamClaimIdleMs: 1_000, containerNetworks: ["host"] });
    try {
      await reportsFor(reports, 5);
      await drained(second.url, "worker", "jobs");
      expect(reports().map((r) => r.event.id).sort()).toEqual([processedFirst!, ...added].sort());
      expect(await producer.xpending("jobs", "hearth:worker")).toEqual([0, null, null, null]);
    } finally {
      await second.stop();
    }
  });

  it("acknowledges an entry settled by a container started before the subscription (its Redis user may not write the stream) through the claim", async () => {
    const redis = await startTestRedis();
    closers.push(redis.stop);
    const producer = new Redis(redis.url);
    closers.push(async () => producer.disconnect());
    const { url: reportUrl, reports } = await receiver();
    const hearth = await startTestHearth(redis, { streamClaimIdleMs: 1_000, containerNetworks: ["host"] });
    try {
      // One container, warm before the subscription: it runs the entry, and its XACK is refused.
      await deployConsumer(hearth.url, "veteran", { maxContainers: 1, keepAlive: 120 });
      expect((await invoke(hearth.url, "veteran", { fields: {} })).status).toBe(200);
      await subscribe(hearth.url, "veteran", "newcomers");
      const entry = await producer.xadd("newcomers", "*", "report", reportUrl);
      const [execution] = await reportsFor(reports, 1);
      expect(execution!.event.id).toBe(entry);
      expect(await finalRecord(hearth.url, execution!.requestId)).toMatchObject({ status: "succeeded" });
      await drained(hearth.url, "veteran", "newcomers");
      expect(reports()).toHaveLength(1);
    } finally {
      await hearth.stop();
    }
  });
});
