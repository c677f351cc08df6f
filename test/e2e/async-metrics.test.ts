// What /metrics (and GET /system/functions/:name) tell about async invocations, end to end on a real
// redis-server and Docker: queue depth and the oldest one's age, retries, dead letters, callback failures.

import { afterAll, describe, expect, it } from "vitest";
import { finalRecord, getInvocation, invokeAsync, request, startReceiver } from "../support/async.js";
import { startGate } from "../support/barrier.js";
import { probeHandler } from "../support/functions.js";
import { deploy, eventually, useTestHearth } from "../support/hearth.js";
import { scrape } from "../support/metrics.js";

// Callbacks given up after two quick tries, so that a failing one is counted in well under a second; to
// a receiver on loopback, which the allow list admits.
const h = useTestHearth({ containerNetworks: ["host"], callbacks: { attempts: 2, retryDelayMs: 50, timeoutMs: 2000, allow: ["127.0.0.1/32"] } });
const closers: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const close of closers) await close();
});

/** Scrapes until `check` holds for a scrape; returns that scrape. */
async function metricsWhere(check: (value: (series: string) => number) => boolean, what: string): Promise<(series: string) => number> {
  return eventually(async () => {
    const value = await scrape(h.url);
    return check(value) ? value : undefined;
  }, 20_000, what);
}

describe("async metrics", () => {
  it("counts retries and dead letters, and shows the dead-letter queue and retries waiting", async () => {
    await deploy(h.url, "doomed", { runtime: "node", maxRetries: 1, retryDelay: 0.05 }, { "index.js": probeHandler() });
    const ids = [(await invokeAsync(h.url, "doomed", { fail: "no" })).body.id, (await invokeAsync(h.url, "doomed", { fail: "no" })).body.id];
    for (const id of ids) expect((await finalRecord(h.url, id)).status).toBe("dead-lettered");

    const value = await scrape(h.url);
    expect(value('hearth_async_retries_total{function="doomed"}')).toBe(2);
    expect(value('hearth_async_dead_lettered_total{function="doomed"}')).toBe(2);
    expect(value('hearth_async_dead_letters{function="doomed"}')).toBe(2);
    expect(value('hearth_async_queue_depth{function="doomed",state="queued"}')).toBe(0);
    expect(value('hearth_async_queue_depth{function="doomed",state="retrying"}')).toBe(0);
    expect(value('hearth_async_oldest_queued_age_seconds{function="doomed"}')).toBe(0);
    expect((await request(h.url, "GET", "/system/functions/doomed")).body.async).toEqual({
      queued: 0,
      retrying: 0,
      oldestQueuedAgeSeconds: 0,
      deadLetters: 2,
      retries: 2,
      deadLettered: 2,
      callbackFailures: 0,
      // Every attempt by how it ended: two invocations, each tried twice.
      outcomes: { success: 0, function_error: 4, timeout: 0, throttled: 0, out_of_memory: 0, platform_error: 0 },
      executionSeconds: expect.any(Number),
    });
    expect(value('hearth_async_invocations_total{function="doomed",outcome="function_error"}')).toBe(4);
    expect(value('hearth_async_invocations_total{function="doomed",outcome="success"}')).toBe(0);

    // Purging empties the queue; what happened stays counted.
    await request(h.url, "DELETE", `/system/functions/doomed/dead-letters/${ids[0]}`);
    const purged = await scrape(h.url);
    expect(purged('hearth_async_dead_letters{function="doomed"}')).toBe(1);
    expect(purged('hearth_async_dead_lettered_total{function="doomed"}')).toBe(2);

    // A failure whose retry is far off waits as "retrying" until it is cancelled.
    await deploy(h.url, "doomed", { runtime: "node", maxRetries: 1, retryDelay: 3600 });
    const waiting = (await invokeAsync(h.url, "doomed", { fail: "no" })).body.id;
    await eventually(async () => ((await getInvocation(h.url, waiting)).nextAttemptAt ? true : undefined), 30_000, "a retry scheduled");
    const retrying = await scrape(h.url);
    expect(retrying('hearth_async_queue_depth{function="doomed",state="retrying"}')).toBe(1);
    expect(retrying('hearth_async_retries_total{function="doomed"}')).toBe(3);
    expect((await request(h.url, "DELETE", `/invocations/${waiting}`)).status).toBe(200);
    expect((await scrape(h.url))('hearth_async_queue_depth{function="doomed",state="retrying"}')).toBe(0);
  });

  it("shows how many async invocations wait and how long the oldest has, while the function is busy", async () => {
    await deploy(h.url, "single", { runtime: "node", maxContainers: 1, network: "host" }, { "index.js": probeHandler() });
    const gate = await startGate();
    closers.push(async () => {
      gate.open();
      await gate.close();
    });
    const running = (await invokeAsync(h.url, "single", { barrier: gate.url })).body.id;
    await eventually(async () => ((await getInvocation(h.url, running)).status === "running" ? true : undefined), 30_000, "the first to run");
    const runningSince = Date.now();
    const queued = [(await invokeAsync(h.url, "single", {})).body.id, (await invokeAsync(h.url, "single", {})).body.id];

    const age = 'hearth_async_oldest_queued_age_seconds{function="single"}';
    const first = await metricsWhere((value) => value(age) > 0, "the oldest queued to have an age");
    expect(first('hearth_async_queue_depth{function="single",state="queued"}')).toBe(2);
    expect(first('hearth_queue_depth{function="single"}')).toBe(2);
    // It is an age: it grows while they wait.
    await metricsWhere((value) => value(age) > first(age), "the oldest queued to age");
    expect((await request(h.url, "GET", "/system/functions/single")).body.async).toMatchObject({ queued: 2, oldestQueuedAgeSeconds: expect.any(Number) });

    const heldFor = (Date.now() - runningSince) / 1000;
    gate.open();
    for (const id of [running, ...queued]) expect((await finalRecord(h.url, id)).status).toBe("succeeded");
    const drained = await scrape(h.url);
    expect(drained('hearth_async_invocations_total{function="single",outcome="success"}')).toBe(3);
    // The first ran while the test looked at the queue: its handler's time is counted (at least that long).
    expect(drained('hearth_async_execution_seconds_total{function="single"}')).toBeGreaterThanOrEqual(heldFor - 0.01);
    expect(drained('hearth_async_queue_depth{function="single",state="queued"}')).toBe(0);
    expect(drained(age)).toBe(0);
  });

  it("counts callback deliveries that failed, each try", async () => {
    await deploy(h.url, "notifier", { runtime: "node" }, { "index.js": probeHandler() });
    const refusing = await startReceiver([500]);
    closers.push(refusing.close);
    const { body } = await invokeAsync(h.url, "notifier", { echo: "done" }, { "X-Callback-Url": refusing.url });
    const record = await eventually(async () => {
      const current = await getInvocation(h.url, body.id);
      return current.callback?.status === "failed" ? current : undefined;
    }, 30_000, "the callback to be given up");
    expect(record.callback).toMatchObject({ attempts: 2, lastError: "answered 500" });
    expect(refusing.calls).toHaveLength(2);

    const value = await scrape(h.url);
    expect(value('hearth_async_callback_failures_total{function="notifier"}')).toBe(2);
    expect(value('hearth_async_dead_lettered_total{function="notifier"}')).toBe(0);
  });
});
