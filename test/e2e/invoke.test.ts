// The core path on a real redis-server and a real Docker engine: deploy, cold and warm invocations,
// concurrency limits, errors, timeouts, redeploys, and the metrics they leave.

import { describe, expect, it } from "vitest";
import { startBarrier } from "../support/barrier.js";
import { probeHandler } from "../support/functions.js";
import { adminHeaders, deploy, eventually, invoke, listContainers, startTestHearth, useTestHearth } from "../support/hearth.js";
import { scrape } from "../support/metrics.js";

const h = useTestHearth({ containerNetworks: ["host"] });

describe("sync invocation in Docker", () => {
  it("deploys a Node function, invokes it cold, then warm in the same container", async () => {
    const deployed = await deploy(h.url, "probe", { runtime: "node" }, { "index.js": probeHandler() });
    expect(deployed.status).toBe(201);
    expect(await deployed.json()).toMatchObject({ name: "probe", runtime: "node", handler: "index.handler", version: 1 });

    const cold = await invoke(h.url, "probe", { echo: "first" });
    expect(cold.status).toBe(200);
    expect(cold.body).toMatchObject({ label: "v1", echo: "first", count: 1 });

    const warm = await invoke(h.url, "probe", { echo: "second" });
    expect(warm.status).toBe(200);
    expect(warm.body).toMatchObject({ echo: "second", container: cold.body.container, count: 2 });
    expect(await listContainers(h.invokerId, "probe")).toHaveLength(1);
  });

  it("serves back-to-back requests from one warm container, starting no other", async () => {
    await deploy(h.url, "steady", { runtime: "node", maxContainers: 10 }, { "index.js": probeHandler() });
    for (let i = 0; i < 300; i += 1) expect((await invoke(h.url, "steady", { echo: i })).body.echo).toBe(i);
    expect(await listContainers(h.invokerId, "steady")).toHaveLength(1);
  });

  it("runs concurrent requests one after the other when the function is limited to one container", async () => {
    await deploy(h.url, "serial", { runtime: "node", maxContainers: 1 }, { "index.js": probeHandler() });
    const [a, b] = await Promise.all([invoke(h.url, "serial", { sleepMs: 300 }), invoke(h.url, "serial", { sleepMs: 300 })]);
    expect([a.status, b.status]).toEqual([200, 200]);
    expect(a.body.container).toBe(b.body.container);
    const [first, second] = [a.body, b.body].sort((x, y) => x.start - y.start);
    expect(second.start).toBeGreaterThanOrEqual(first.end);
    expect(await listContainers(h.invokerId, "serial")).toHaveLength(1);
  });

  it("runs concurrent requests at the same time in two containers when the limit allows two", async () => {
    await deploy(h.url, "parallel", { runtime: "node", maxContainers: 2, network: "host" }, { "index.js": probeHandler() });
    const barrier = await startBarrier(2);
    try {
      const [a, b] = await Promise.all([invoke(h.url, "parallel", { barrier: barrier.url }), invoke(h.url, "parallel", { barrier: barrier.url })]);
      expect([a.body.barrier, b.body.barrier]).toEqual(["together", "together"]);
      expect(a.body.container).not.toBe(b.body.container);
    } finally {
      await barrier.close();
    }
  });

  it("answers a handler error with 502, X-Function-Error and the Node runtime's {errorType, errorMessage, trace}", async () => {
    const result = await invoke(h.url, "probe", { fail: "boom" });
    expect(result.status).toBe(502);
    expect(result.headers.get("x-function-error")).toBe("true");
    expect(result.body).toMatchObject({ errorMessage: "boom", errorType: "TypeError" });
    expect(result.body.trace[0]).toContain("TypeError: boom");
  });

  it("answers bad requests with JSON errors: 404 unknown function, 400 malformed JSON, 413 over 6 MB", async () => {
    const missing = await invoke(h.url, "no-such-function");
    expect(missing.status).toBe(404);
    expect(missing.body).toMatchObject({ errorType: "FunctionNotFound" });

    const malformed = await fetch(`${h.url}/function/probe`, { headers: adminHeaders, method: "POST", body: "{not json" });
    expect(malformed.status).toBe(400);
    expect(await malformed.json()).toMatchObject({ errorType: "InvalidRequestContent" });

    const huge = await fetch(`${h.url}/function/probe`, { headers: adminHeaders, method: "POST", body: JSON.stringify({ pad: "x".repeat(6 * 1024 * 1024) }) });
    expect(huge.status).toBe(413);
    expect(await huge.json()).toMatchObject({ errorType: "RequestTooLarge" });
  });

  it("stops a handler spinning in a CPU loop at its timeout with 504, and serves the next request from a fresh runtime", async () => {
    await deploy(h.url, "spinner", { runtime: "node", timeout: 1, maxContainers: 1 }, { "index.js": probeHandler() });
    const warmUp = await invoke(h.url, "spinner");
    expect(warmUp.body.count).toBe(1);

    const spun = await invoke(h.url, "spinner", { spin: true });
    expect(spun.status).toBe(504);
    expect(spun.body).toMatchObject({ errorType: "Sandbox.Timedout", errorMessage: "Task timed out after 1.00 seconds" });

    const after = await invoke(h.url, "spinner");
    expect(after.status).toBe(200);
    // The spinning runtime process was killed: the module-level counter starts again.
    expect(after.body.count).toBe(1);
  });

  it("answers a runtime that exits mid-request with 502 at once, and serves the next request", async () => {
    const exited = await invoke(h.url, "spinner", { exit: 3 });
    expect(exited.status).toBe(502);
    expect(exited.body).toMatchObject({ errorType: "Runtime.ExitError", errorMessage: expect.stringContaining("exit status 3") });
    const after = await invoke(h.url, "spinner");
    expect(after).toMatchObject({ status: 200, body: { count: 1 } });
  });

  it("answers 504 at once when a request waited in the queue past its queue time", async () => {
    const impatient = await startTestHearth(h.redis, { queueTimeoutMs: 500, roles: { api: true, invoker: false } });
    try {
      await deploy(h.url, "slowpoke", { runtime: "node", maxContainers: 1, timeout: 20 }, { "index.js": probeHandler() });
      expect((await invoke(h.url, "slowpoke")).status).toBe(200);
      const started = Date.now();
      const [first, second] = await Promise.all([invoke(impatient.url, "slowpoke", { sleepMs: 2000 }), invoke(impatient.url, "slowpoke")]);
      expect(first.status).toBe(200);
      expect(second.status).toBe(504);
      expect(second.body).toMatchObject({ errorType: "Hearth.QueueTimeout" });
      // Answered when the container reached it, not after the whole wait (0.5 s queue + 20 s timeout + grace).
      expect(Date.now() - started).toBeLessThan(15_000);
    } finally {
      await impatient.stop();
    }
  });

  it("after a redeploy, requests run the new code and the old container goes away", async () => {
    await deploy(h.url, "versions", { runtime: "node" }, { "index.js": probeHandler("v1") });
    const before = await invoke(h.url, "versions");
    expect(before.body.label).toBe("v1");

    const redeployed = await deploy(h.url, "versions", { runtime: "node" }, { "index.js": probeHandler("v2") });
    expect(redeployed.status).toBe(200);
    expect(await redeployed.json()).toMatchObject({ version: 2 });
    for (let i = 0; i < 3; i += 1) {
      const after = await invoke(h.url, "versions");
      expect(after.body.label).toBe("v2");
      expect(after.body.container).not.toBe(before.body.container);
    }
    await eventually(async () => ((await listContainers(h.invokerId, "versions")).length === 1 ? true : undefined), 20_000, "the old container to retire");
  });

  it("reports invocations, cold starts, containers and queue depth at /metrics", async () => {
    const value = await scrape(h.url);
    expect(value('hearth_invocation_duration_seconds_count{function="probe",status="200"}')).toBe(2);
    expect(value('hearth_invocation_duration_seconds_count{function="probe",status="502"}')).toBe(1);
    // No series for a function that does not exist (test/e2e/metrics-series.test.ts).
    expect(value('hearth_invocation_duration_seconds_count{function="no-such-function",status="404"}')).toBeNaN();
    expect(value('hearth_invocation_duration_seconds_count{function="spinner",status="504"}')).toBe(1);
    // By outcome: the handler's error is the function's, the spinner's a timeout.
    expect(value('hearth_invocations_total{function="probe",outcome="success"}')).toBe(2);
    expect(value('hearth_invocations_total{function="probe",outcome="function_error"}')).toBe(1);
    expect(value('hearth_invocations_total{function="probe",outcome="platform_error"}')).toBe(0);
    expect(value('hearth_invocations_total{function="spinner",outcome="timeout"}')).toBe(1);
    // The handler's run apart from queueing: the first request of the container waited for its cold start.
    expect(value('hearth_execution_duration_seconds_count{function="probe",start="cold"}')).toBe(1);
    expect(value('hearth_execution_duration_seconds_count{function="probe",start="warm"}')).toBe(2);
    expect(value('hearth_queue_wait_seconds_sum{function="probe",start="cold"}')).toBeGreaterThan(value('hearth_queue_wait_seconds_sum{function="probe",start="warm"}'));
    expect(value('hearth_cold_starts_total{function="probe"}')).toBe(1);
    expect(value('hearth_cold_starts_total{function="parallel"}')).toBe(2);
    expect(value('hearth_cold_start_duration_seconds_count{function="probe"}')).toBe(1);
    expect(value('hearth_containers{function="probe",state="idle"}')).toBe(1);
    expect(value('hearth_containers{function="probe",state="busy"}')).toBe(0);
    expect(value('hearth_queue_depth{function="probe"}')).toBe(0);
  });
});
