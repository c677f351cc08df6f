// The dashboards and rules of monitoring/ on a real Prometheus (Debian's) scraping a real Hearth: a
// workload that gives every panel something to show (warm and cold, errors, a timeout, out of memory,
// async with retries, a dead letter, a failing callback, a full queue, a lost invoker, the host cap),
// then every panel's and every rule's expression evaluated through Prometheus's HTTP API must return
// series, and every alert must fire. Prints the table of what each returned.

import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { afterAll, describe, expect, it } from "vitest";
import { DASHBOARD_FILES, RULES_FILE } from "../../monitoring/generated-files.js";
import { alertRules, recordingRules, rulesFile, type AlertThresholds } from "../../monitoring/rules.js";
import { invokeAsync, startReceiver } from "../support/async.js";
import { probeHandler } from "../support/functions.js";
import { deploy, eventually, invoke, useTestHearth } from "../support/hearth.js";
import { scrape } from "../support/metrics.js";
import { freePort, promtool, startPrometheus, type TestPrometheus } from "../support/prometheus.js";

/** Low enough that a minute's workload crosses each; the expressions are those of rules.yml. */
const TEST_THRESHOLDS: AlertThresholds = { errorRatio: 0.05, queueAgeSeconds: 1, coldStartsPerSecond: 0, for: "0s" };
/** Five functions on a host capped at three containers: the cap is reached, and idle containers are evicted. */
const h = useTestHearth({ hostLimits: { maxContainers: 3, maxMemoryMb: 8192 }, callbacks: { attempts: 2, retryDelayMs: 50, timeoutMs: 2000, allow: ["127.0.0.1/32"] } });

const cleanups: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

/** A handler that takes memory until the kernel kills it (128 MB function). */
const HOG = `exports.handler = async (event) => {
  const held = [];
  for (let i = 0; i < (event.allocateMb || 0); i++) held.push(Buffer.alloc(1024 * 1024, 1));
  return { ok: true, held: held.length };
};`;

interface Expression {
  kind: string;
  name: string;
  expr: string;
}

/** Every query of every panel of a provisioned dashboard; `$function` is the one function given. */
function panelExpressions(file: string, fn: string): Expression[] {
  const dashboard = JSON.parse(readFileSync(file, "utf8")) as { title: string; panels: Array<{ type: string; title: string; targets?: Array<{ expr: string; refId: string }> }> };
  return dashboard.panels
    .filter((panel) => panel.type !== "row")
    .flatMap((panel) => panel.targets!.map((target) => ({ kind: `panel (${dashboard.title})`, name: `${panel.title} [${target.refId}]`, expr: target.expr.replaceAll("$function", fn) })));
}

/** A Hearth process with only the invoker role, killed without a word once it beats: a lost invoker. */
async function loseAnInvoker(): Promise<void> {
  const child: ChildProcess = spawn(process.execPath, ["dist/hearth.cjs"], {
    env: { ...process.env, HEARTH_ROLES: "invoker", REDIS_URL: h.redisUrl, HEARTH_CONTAINER_REDIS_SOCKET: h.redis.socketPath, HEARTH_INVOKER_ID: `lost-${randomBytes(4).toString("hex")}`, HEARTH_INVOKER_HEARTBEAT_MS: "300", HEARTH_STEM_CELLS: "", LOG_LEVEL: "warn" },
    stdio: ["ignore", "inherit", "inherit"],
  });
  const exited = new Promise((resolve) => child.once("exit", resolve));
  cleanups.push(async () => {
    if (child.exitCode === null && child.signalCode === null) process.kill(child.pid!, "SIGKILL");
    await exited;
  });
  await eventually(async () => ((await scrape(h.url))('hearth_invokers{state="alive"}') === 2 ? true : undefined), 30_000, "the second invoker to beat");
  process.kill(child.pid!, "SIGKILL");
  await exited;
}

function allExpressions(): Expression[] {
  return [
    ...panelExpressions(DASHBOARD_FILES.overview, "warm"),
    ...panelExpressions(DASHBOARD_FILES.function, "warm"),
    ...recordingRules().map((rule) => ({ kind: "recording rule", name: rule.record, expr: rule.expr })),
    ...alertRules(TEST_THRESHOLDS).map((rule) => ({ kind: "alert rule", name: rule.alert, expr: rule.expr })),
    ...alertRules(TEST_THRESHOLDS).map((rule) => ({ kind: "alert firing", name: rule.alert, expr: `ALERTS{alertname="${rule.alert}",alertstate="firing"}` })),
  ];
}

/**
 * Asks each expression, over and over, until it returns series (rates need two scrapes, alerts an
 * evaluation) or the time is up: how many series each returned the first time it returned any.
 */
async function evaluateUntilAllReturnSeries(prometheus: TestPrometheus, expressions: Expression[], timeoutMs: number, signal: AbortSignal) {
  const seriesCount = new Map<Expression, number>();
  const deadline = Date.now() + timeoutMs;
  // Stopped when the test ends early (a failed step), before its Prometheus is.
  while (!signal.aborted && seriesCount.size < expressions.length && Date.now() < deadline) {
    for (const expression of expressions.filter((e) => !seriesCount.has(e))) {
      const series = await prometheus.query(expression.expr).catch((error: unknown) => {
        if (signal.aborted) return [];
        throw error;
      });
      if (series.length > 0) seriesCount.set(expression, series.length);
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  return { expressions, seriesCount };
}

describe("monitoring on a real Prometheus", () => {
  it("gives every panel and every rule series, fires every alert, and passes promtool", async () => {
    expect(promtool(["--version"]).status, "promtool and prometheus are missing: run scripts/setup.sh (Debian's prometheus)").toBe(0);
    expect(existsSync("dist/hearth.cjs"), "dist/hearth.cjs is missing: run scripts/test.sh (it builds)").toBe(true);
    // The rule files check, the committed one and the test's.
    expect(promtool(["check", "rules", RULES_FILE])).toMatchObject({ status: 0 });
    // A second target where nothing listens: a Hearth process that is down (HearthDown).
    const down = `127.0.0.1:${await freePort()}`;
    const prometheus: TestPrometheus = await startPrometheus({ targets: [new URL(h.url).host, down], ruleFiles: [rulesFile(TEST_THRESHOLDS, "1s")], scrapeInterval: "1s" });
    cleanups.push(() => prometheus.stop());
    expect(promtool(["check", "rules", `${prometheus.dir}/rules-0.yml`])).toMatchObject({ status: 0 });

    // Asked from now on, while the workload runs: some states last only a while (a full host, a queue waiting).
    const asking = new AbortController();
    cleanups.push(async () => asking.abort());
    const evaluated = evaluateUntilAllReturnSeries(prometheus, allExpressions(), 150_000, asking.signal);

    await loseAnInvoker();

    const refusing = await startReceiver([500]);
    cleanups.push(refusing.close);
    for (const [name, config, files] of [
      ["warm", { runtime: "node" }, { "index.js": probeHandler() }],
      ["sleepy", { runtime: "node", timeout: 1 }, { "index.js": probeHandler() }],
      ["hog", { runtime: "node", memory: 128, maxRetries: 0 }, { "index.js": HOG }],
      ["doomed", { runtime: "node", maxRetries: 1, retryDelay: 0.05 }, { "index.js": probeHandler() }],
      ["single", { runtime: "node", maxContainers: 1, maxQueuedAsync: 2 }, { "index.js": probeHandler() }],
    ] as const) {
      expect((await deploy(h.url, name, config, files)).status).toBe(201);
    }
    // Prometheus has seen every function's counters at zero: what follows shows as an increase.
    await eventually(async () => ((await prometheus.query("hearth_async_dead_lettered_total")).length === 5 ? true : undefined), 20_000, "Prometheus to scrape the new functions");

    // One container, busy for seconds: async work waits behind it (queue age), and the queue fills (429).
    const singleAnswers = [];
    for (let i = 0; i < 5; i++) singleAnswers.push((await invokeAsync(h.url, "single", { sleepMs: 6000 })).status);
    expect(singleAnswers).toContain(429);
    expect(singleAnswers.filter((status) => status === 202).length).toBeGreaterThanOrEqual(2);

    const warm = [];
    for (let i = 0; i < 8; i++) warm.push((await invoke(h.url, "warm", i % 4 === 3 ? { fail: "on purpose" } : {})).status);
    expect(warm).toEqual([200, 200, 200, 502, 200, 200, 200, 502]);
    expect((await invoke(h.url, "sleepy", { sleepMs: 3000 })).status).toBe(504);
    expect((await invoke(h.url, "hog", { allocateMb: 512 })).body).toMatchObject({ errorType: "Runtime.OutOfMemory" });
    expect((await invokeAsync(h.url, "doomed", { fail: "always" }, { "X-Callback-Url": refusing.url })).status).toBe(202);

    // What Hearth itself says, before asking Prometheus.
    const metrics = await eventually(async () => {
      const value = await scrape(h.url);
      return value('hearth_async_callback_failures_total{function="doomed"}') === 2 ? value : undefined;
    }, 30_000, "the callback of the dead letter to fail twice");
    expect(metrics('hearth_invocations_total{function="warm",outcome="success"}')).toBe(6);
    expect(metrics('hearth_invocations_total{function="warm",outcome="function_error"}')).toBe(2);
    expect(metrics('hearth_invocations_total{function="sleepy",outcome="timeout"}')).toBe(1);
    expect(metrics('hearth_invocations_total{function="hog",outcome="out_of_memory"}')).toBe(1);
    expect(metrics('hearth_execution_duration_seconds_count{function="warm",start="cold"}')).toBe(1);
    expect(metrics('hearth_execution_duration_seconds_count{function="warm",start="warm"}')).toBe(7);
    expect(metrics('hearth_async_invocations_total{function="doomed",outcome="function_error"}')).toBe(2);
    expect(metrics('hearth_async_invocations_total{function="single",outcome="throttled"}')).toBeGreaterThanOrEqual(1);
    expect(metrics('hearth_async_dead_lettered_total{function="doomed"}')).toBe(1);
    expect(metrics('hearth_invokers{state="lost"}')).toBe(1);

    // Kept warm for a few seconds: its container's CPU and memory are read by several scrapes (the
    // host cap evicted its first container within a second).
    for (let i = 0; i < 6; i++) {
      expect((await invoke(h.url, "warm")).status).toBe(200);
      await new Promise((resolve) => setTimeout(resolve, 500));
    }

    const { expressions, seriesCount } = await evaluated;
    const rows = expressions.map((e) => `| ${e.kind} | ${e.name} | ${seriesCount.get(e) ?? 0} |`);
    console.log(["| kind | panel or rule | series |", "| --- | --- | --- |", ...rows].join("\n"));
    expect(expressions.filter((e) => !seriesCount.has(e)).map((e) => `${e.kind}: ${e.name}: ${e.expr}`)).toEqual([]);

    // Every rule loaded and evaluates without an error.
    const rules = (await (await fetch(`${prometheus.url}/api/v1/rules`)).json()) as { data: { groups: Array<{ rules: Array<{ name: string; health: string; lastError?: string }> }> } };
    const loaded = rules.data.groups.flatMap((group) => group.rules);
    expect(loaded).toHaveLength(recordingRules().length + alertRules(TEST_THRESHOLDS).length);
    expect(loaded.filter((rule) => rule.health !== "ok")).toEqual([]);

    // A scrape of this Hearth, series of every kind in it, lints clean.
    const exposition = await (await fetch(`${h.url}/metrics`)).text();
    expect(exposition).toContain("process_cpu_seconds_total");
    expect(exposition).toContain("nodejs_heap_size_used_bytes");
    expect(promtool(["check", "metrics"], exposition)).toEqual({ status: 0, output: "" });
  }, 300_000);
});
