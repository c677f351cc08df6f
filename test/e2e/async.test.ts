// Async invocation end to end on a real redis-server and Docker: 202 and records, idempotency,
// retries and dead letters (handler errors, crashes, timeouts), callbacks, cancel, backpressure,
// retention, and what a deleted function leaves.

import { afterAll, describe, expect, it } from "vitest";
import { invocationRecordKey } from "../../gateway/protocol/keys.js";
import { finalRecord, getInvocation, invokeAsync, request, startReceiver } from "../support/async.js";
import { startGate } from "../support/barrier.js";
import { probeHandler } from "../support/functions.js";
import { adminHeaders, deploy, eventually, invoke, useTestHearth } from "../support/hearth.js";

// Callbacks are tried three times, 50 ms apart at first, so that their retries take no time here; they
// go to receivers on loopback, which the default policy refuses and the allow list admits.
const h = useTestHearth({ containerNetworks: ["host"], callbacks: { attempts: 3, retryDelayMs: 50, timeoutMs: 2000, allow: ["127.0.0.1/32"] } });
const closers: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const close of closers) await close();
});

async function receiver(statuses?: number[], reply?: string) {
  const started = await startReceiver(statuses, reply);
  closers.push(started.close);
  return started;
}

async function gate() {
  const started = await startGate();
  closers.push(async () => {
    started.open();
    await started.close();
  });
  return started;
}

describe("async invocation", () => {
  it("answers 202 with the id, runs the function once, and keeps its result in the record", async () => {
    await deploy(h.url, "job", { runtime: "node", network: "host" }, { "index.js": probeHandler() });
    const reports = await receiver();
    const accepted = await invokeAsync(h.url, "job", { echo: "hello", report: reports.url });
    expect(accepted.status).toBe(202);
    const id = accepted.body.id as string;
    expect(accepted.headers.get("x-call-id")).toBe(id);
    expect(accepted.headers.get("location")).toBe(`/invocations/${id}`);

    const record = await finalRecord(h.url, id);
    expect(record).toMatchObject({ id, function: "job", status: "succeeded", attempts: 1, statusCode: 200, result: { echo: "hello" } });
    expect(Date.parse(record.queuedAt)).toBeLessThanOrEqual(Date.parse(record.startedAt));
    expect(Date.parse(record.startedAt)).toBeLessThanOrEqual(Date.parse(record.finishedAt));
    expect(reports.calls.map((call) => call.body)).toEqual([id]);
    // Kept for the retention time (a day by default) once final, then gone.
    const ttl = await h.client.pttl(invocationRecordKey(id)!);
    expect(ttl).toBeGreaterThan(86_000_000);
    expect(ttl).toBeLessThanOrEqual(86_400_000);
  });

  it("makes the sync route async with X-Invocation-Type: Event, and rejects other types", async () => {
    const response = await fetch(`${h.url}/function/job`, { method: "POST", headers: { ...adminHeaders, "X-Invocation-Type": "Event" }, body: JSON.stringify({ echo: "event" }) });
    expect(response.status).toBe(202);
    const { id } = (await response.json()) as { id: string };
    expect((await finalRecord(h.url, id)).result).toMatchObject({ echo: "event" });

    const wrong = await fetch(`${h.url}/function/job`, { method: "POST", headers: { ...adminHeaders, "X-Invocation-Type": "DryRun" }, body: "{}" });
    expect(wrong.status).toBe(400);
    expect(await wrong.json()).toMatchObject({ errorType: "InvalidInvocationType" });
  });

  it("returns the first invocation's id for a repeated Idempotency-Key, and runs it once", async () => {
    const reports = await receiver();
    const first = await invokeAsync(h.url, "job", { report: reports.url }, { "Idempotency-Key": "order-17" });
    const again = await invokeAsync(h.url, "job", { report: reports.url }, { "Idempotency-Key": "order-17" });
    expect(again.status).toBe(202);
    expect(again.body.id).toBe(first.body.id);
    expect(again.headers.get("idempotent-replayed")).toBe("true");
    expect(first.headers.get("idempotent-replayed")).toBeNull();
    await finalRecord(h.url, first.body.id);
    const other = await invokeAsync(h.url, "job", { report: reports.url }, { "Idempotency-Key": "order-18" });
    await finalRecord(h.url, other.body.id);
    expect(reports.calls.map((call) => call.body)).toEqual([first.body.id, other.body.id]);
  });

  it("answers 422 to a key replayed with another body, function or callback, and runs nothing", async () => {
    const reports = await receiver();
    const callbacks = await receiver();
    await deploy(h.url, "twin", { runtime: "node" }, { "index.js": probeHandler() });
    const key = { "Idempotency-Key": "order-19" };
    const first = await invokeAsync(h.url, "job", { report: reports.url }, key);
    await finalRecord(h.url, first.body.id);
    const replays = [
      () => invokeAsync(h.url, "job", { report: reports.url, echo: "changed" }, key),
      () => invokeAsync(h.url, "job", { report: reports.url }, { ...key, "X-Callback-Url": callbacks.url }),
      async () => {
        const raw = await fetch(`${h.url}/async-function/job?integration=raw`, { method: "POST", headers: { ...adminHeaders, ...key }, body: JSON.stringify({ report: reports.url }) });
        return { status: raw.status, body: await raw.json() };
      },
      // The finding: another caller resending the key got the first caller's id, then read its result.
      async () => {
        const other = await request(h.url, "POST", "/system/keys", { name: "other-caller", scopes: ["invoke"], functions: ["job"] });
        expect(other.status).toBe(201);
        return invokeAsync(h.url, "job", { report: reports.url }, { ...key, authorization: `Bearer ${other.body.key}` });
      },
    ];
    for (const replay of replays) {
      const answer = await replay();
      expect(answer.status).toBe(422);
      expect(answer.body).toMatchObject({ errorType: "IdempotencyKeyMismatch" });
      expect(answer.body.errorMessage).toContain("order-19");
    }
    const same = await invokeAsync(h.url, "job", { report: reports.url }, key);
    expect(same).toMatchObject({ status: 202, body: { id: first.body.id } });
    // A key is the function's: sent to another function, it is another request.
    const twin = await invokeAsync(h.url, "twin", {}, key);
    expect(twin.status).toBe(202);
    expect(twin.body.id).not.toBe(first.body.id);
    // Wait for anything a replay might have queued: a later invocation runs after it.
    const later = await invokeAsync(h.url, "job", { report: reports.url });
    await finalRecord(h.url, later.body.id);
    expect(reports.calls.map((call) => call.body)).toEqual([first.body.id, later.body.id]);
    expect(callbacks.calls).toHaveLength(0);
  });

  it("rejects what it cannot run with a clear error and queues nothing", async () => {
    expect((await invokeAsync(h.url, "no-such-function")).status).toBe(404);
    const badJson = await fetch(`${h.url}/async-function/job`, { headers: adminHeaders, method: "POST", body: "{not json" });
    expect(badJson.status).toBe(400);
    const badCallback = await invokeAsync(h.url, "job", {}, { "X-Callback-Url": "ftp://example/x" });
    expect(badCallback.status).toBe(400);
    expect(badCallback.body).toMatchObject({ errorType: "InvalidCallbackUrl" });
    const badKey = await invokeAsync(h.url, "job", {}, { "Idempotency-Key": "has space" });
    expect(badKey.body).toMatchObject({ errorType: "InvalidIdempotencyKey" });
    const streamKey = await invokeAsync(h.url, "job", {}, { "Idempotency-Key": "stream:job:orders:1-0" });
    expect(streamKey).toMatchObject({ status: 400, body: { errorType: "InvalidIdempotencyKey" } });
    // Ids are <function>.<uuid>: an unknown one, or one of any other form, is not found (and cancels nothing).
    for (const id of ["job.00000000-0000-0000-0000-000000000000", "00000000-0000-0000-0000-000000000000", "job", "..%2F..%2Fx", "job.*"]) {
      for (const method of ["GET", "DELETE"]) {
        const answer = await request(h.url, method, `/invocations/${id}`);
        expect(answer.status, `${method} ${id}`).toBe(404);
        expect(answer.body).toMatchObject({ errorType: "InvocationNotFound" });
      }
    }
  });

  it("retries a failing invocation with backoff, dead-letters it after maxRetries, and re-drives it", async () => {
    await deploy(h.url, "flaky", { runtime: "node", maxRetries: 2, retryDelay: 0.2, network: "host" }, { "index.js": probeHandler() });
    const reports = await receiver();
    const verdict = await receiver([200], "fail");
    const { body } = await invokeAsync(h.url, "flaky", { report: reports.url, failIf: verdict.url, echo: "again" });
    const dead = await finalRecord(h.url, body.id);
    expect(dead).toMatchObject({ status: "dead-lettered", attempts: 3, statusCode: 502, error: { errorMessage: "told to fail", errorType: "Error" } });
    expect(reports.calls).toHaveLength(3);

    const listed = await request(h.url, "GET", "/system/functions/flaky/dead-letters");
    expect(listed.body.total).toBe(1);
    expect(listed.body.invocations[0]).toMatchObject({ id: body.id, status: "dead-lettered" });

    verdict.setReply("ok");
    const redriven = await request(h.url, "POST", `/system/functions/flaky/dead-letters/${body.id}/redrive`);
    expect(redriven.body).toEqual({ redriven: [body.id] });
    expect(await finalRecord(h.url, body.id)).toMatchObject({ status: "succeeded", attempts: 1, result: { echo: "again" } });
    expect((await request(h.url, "GET", "/system/functions/flaky/dead-letters")).body.total).toBe(0);
    expect((await request(h.url, "POST", `/system/functions/flaky/dead-letters/${body.id}/redrive`)).status).toBe(404);
  });

  it("retries an invocation that timed out, and dead-letters it with the timeout error", async () => {
    await deploy(h.url, "slow", { runtime: "node", timeout: 1, maxRetries: 1, retryDelay: 0.1 }, { "index.js": probeHandler() });
    const { body } = await invokeAsync(h.url, "slow", { sleepMs: 10_000 });
    const dead = await finalRecord(h.url, body.id);
    expect(dead).toMatchObject({ status: "dead-lettered", attempts: 2, statusCode: 504, error: { errorType: "Sandbox.Timedout" } });
    // A dead letter is kept until it is re-driven or purged.
    expect(await h.client.pttl(invocationRecordKey(body.id)!)).toBe(-1);
  });

  it("purges dead letters, one or all", async () => {
    await deploy(h.url, "doomed", { runtime: "node", maxRetries: 0 }, { "index.js": probeHandler() });
    const ids = await Promise.all([1, 2, 3].map(async () => (await invokeAsync(h.url, "doomed", { fail: "no" })).body.id as string));
    for (const id of ids) expect((await finalRecord(h.url, id)).status).toBe("dead-lettered");
    expect((await request(h.url, "DELETE", `/system/functions/doomed/dead-letters/${ids[0]}`)).body).toEqual({ purged: [ids[0]] });
    expect((await request(h.url, "GET", `/invocations/${ids[0]}`)).status).toBe(404);
    const rest = await request(h.url, "DELETE", "/system/functions/doomed/dead-letters");
    expect(rest.body.purged.sort()).toEqual(ids.slice(1).sort());
    expect((await request(h.url, "GET", "/system/functions/doomed/dead-letters")).body).toEqual({ total: 0, invocations: [] });
    expect((await request(h.url, "GET", "/system/functions/ghost/dead-letters")).status).toBe(404);
  });

  it("retries an invocation whose runtime crashed, and counts both attempts", async () => {
    const reports = await receiver();
    await deploy(h.url, "crashy", { runtime: "node", maxRetries: 1, retryDelay: 0.1, network: "host" }, {
      "index.js": `
const http = require("node:http");
exports.handler = async (event, context) => {
  await new Promise((resolve) => http.request(event.report, { method: "POST" }, (res) => { res.resume(); res.on("end", resolve); }).end(context.awsRequestId));
  const crashed = require("node:fs").existsSync("/tmp/crashed");
  if (!crashed) { require("node:fs").writeFileSync("/tmp/crashed", "1"); process.exit(3); }
  return { survived: true };
};`,
    });
    const { body } = await invokeAsync(h.url, "crashy", { report: reports.url });
    const record = await finalRecord(h.url, body.id);
    expect(record).toMatchObject({ status: "succeeded", attempts: 2, result: { survived: true } });
    expect(reports.calls.map((call) => call.body)).toEqual([body.id, body.id]);
  });

  it("cancels an invocation still queued, and refuses once it runs", async () => {
    await deploy(h.url, "single", { runtime: "node", maxContainers: 1, network: "host" }, { "index.js": probeHandler() });
    const held = await gate();
    const running = await invokeAsync(h.url, "single", { barrier: held.url });
    await eventually(async () => ((await getInvocation(h.url, running.body.id)).status === "running" ? true : undefined), 30_000, "the first to run");
    const queued = await invokeAsync(h.url, "single", { echo: "never" });
    expect((await getInvocation(h.url, queued.body.id)).status).toBe("queued");
    // Nothing expires while it is not final.
    expect(await h.client.pttl(invocationRecordKey(queued.body.id)!)).toBe(-1);

    const cancelled = await request(h.url, "DELETE", `/invocations/${queued.body.id}`);
    expect(cancelled.status).toBe(200);
    expect(cancelled.body).toMatchObject({ status: "cancelled" });
    const refused = await request(h.url, "DELETE", `/invocations/${running.body.id}`);
    expect(refused.status).toBe(409);
    held.open();
    expect((await finalRecord(h.url, running.body.id)).status).toBe("succeeded");
    expect((await getInvocation(h.url, queued.body.id)).status).toBe("cancelled");
  });

  it("answers 429 with Retry-After past a function's queue limits, sync and async apart", async () => {
    await deploy(h.url, "narrow", { runtime: "node", maxContainers: 1, maxQueued: 1, maxQueuedAsync: 2, network: "host" }, { "index.js": probeHandler() });
    const held = await gate();
    const busy = invoke(h.url, "narrow", { barrier: held.url });
    await eventually(async () => ((await request(h.url, "GET", "/system/functions/narrow")).body.containers.busy === 1 ? true : undefined), 30_000, "a busy container");
    const waiting = invoke(h.url, "narrow", { echo: "waits" });
    await eventually(async () => ((await request(h.url, "GET", "/system/functions/narrow")).body.queued === 1 ? true : undefined), 10_000, "one queued");
    const turnedAway = await invoke(h.url, "narrow", {});
    expect(turnedAway.status).toBe(429);
    expect(turnedAway.headers.get("retry-after")).toBe("1");
    expect(turnedAway.body).toMatchObject({ errorType: "TooManyRequests" });

    // Async has a limit of its own: two more are taken while sync is full, the third is not.
    const accepted = [await invokeAsync(h.url, "narrow", { echo: 1 }), await invokeAsync(h.url, "narrow", { echo: 2 })];
    expect(accepted.map((a) => a.status)).toEqual([202, 202]);
    const third = await invokeAsync(h.url, "narrow", { echo: 3 });
    expect(third.status).toBe(429);
    expect(third.headers.get("retry-after")).toBe("1");

    held.open();
    expect((await busy).status).toBe(200);
    expect((await waiting).status).toBe(200);
    for (const { body } of accepted) expect((await finalRecord(h.url, body.id)).status).toBe("succeeded");
  });

  it("POSTs the result to X-Callback-Url with the call's id, function, status and duration", async () => {
    const callbacks = await receiver();
    const { body } = await invokeAsync(h.url, "job", { echo: "called back" }, { "X-Callback-Url": callbacks.url });
    await eventually(async () => (callbacks.calls.length > 0 ? true : undefined), 30_000, "the callback");
    const [call] = callbacks.calls;
    expect(call!.headers).toMatchObject({ "x-call-id": body.id, "x-function-name": "job", "x-function-status": "200", "content-type": "application/json" });
    expect(Number(call!.headers["x-duration-seconds"])).toBeGreaterThanOrEqual(0);
    expect(JSON.parse(call!.body)).toMatchObject({ echo: "called back" });
    const record = await eventually(async () => {
      const read = await getInvocation(h.url, body.id);
      return read.callback?.status === "delivered" ? read : undefined;
    }, 10_000, "the callback to show as delivered");
    expect(record.callback).toMatchObject({ url: callbacks.url, status: "delivered", attempts: 1 });
    expect(callbacks.calls).toHaveLength(1);
  });

  it("retries a failed callback with backoff, and records the outcome when it gives up", async () => {
    const flaky = await receiver([500, 503, 200]);
    const recovered = await invokeAsync(h.url, "job", { echo: 1 }, { "X-Callback-Url": flaky.url });
    const delivered = await eventually(async () => {
      const read = await getInvocation(h.url, recovered.body.id);
      return read.callback?.status === "delivered" ? read : undefined;
    }, 30_000, "the third try to deliver");
    expect(delivered.callback.attempts).toBe(3);
    expect(flaky.calls).toHaveLength(3);

    const down = await receiver([500]);
    const failed = await invokeAsync(h.url, "flaky", { fail: "x", echo: 2 }, { "X-Callback-Url": down.url });
    const gaveUp = await eventually(async () => {
      const read = await getInvocation(h.url, failed.body.id);
      return read.callback?.status === "failed" ? read : undefined;
    }, 30_000, "the callback to be given up");
    expect(gaveUp).toMatchObject({ status: "dead-lettered", callback: { status: "failed", attempts: 3, lastError: "answered 500" } });
    // The dead letter's callback carries the last error.
    expect(down.calls[0]!.headers["x-function-status"]).toBe("502");
    expect(JSON.parse(down.calls[0]!.body)).toMatchObject({ errorMessage: "x", errorType: "TypeError" });
  });

  it("fails the async invocations of a function deleted before they ran", async () => {
    await deploy(h.url, "short-lived", { runtime: "node", maxContainers: 1, network: "host" }, { "index.js": probeHandler() });
    const held = await gate();
    const running = await invokeAsync(h.url, "short-lived", { barrier: held.url });
    await eventually(async () => ((await getInvocation(h.url, running.body.id)).status === "running" ? true : undefined), 30_000, "the first to run");
    const queued = await invokeAsync(h.url, "short-lived", {});
    expect((await request(h.url, "DELETE", "/system/functions/short-lived")).status).toBe(204);
    expect(await getInvocation(h.url, queued.body.id)).toMatchObject({ status: "failed", statusCode: 404, error: { errorType: "FunctionNotFound" } });
    held.open();
    // The one already running finishes; with its function gone it is not retried.
    expect((await finalRecord(h.url, running.body.id)).status).toBe("succeeded");
  });
});
