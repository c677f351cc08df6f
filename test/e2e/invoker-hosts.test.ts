// Several invoker hosts: one API process and two invoker processes on one Redis, each invoker on a
// Docker engine of its own (the machine's, and a second dockerd the test starts). Under load a
// function's containers run on both hosts; when one host is lost mid-load (its invoker SIGKILLed, or
// its engine), every caller still gets an answer (200, or 502 for a request its container was running),
// every accepted async invocation succeeds (retried where it was cut short), and the next work is
// served by the other host. No assertion depends on which container takes which request.

import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import type Docker from "dockerode";
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from "vitest";
import { LABELS } from "../../gateway/invoker/docker-backend.js";
import type { EmbeddedRedis } from "../../gateway/redis/embedded-redis.js";
import { finalRecord, invokeAsync } from "../support/async.js";
import { deploy, docker as machineDocker, eventually, invoke, startTestRedis } from "../support/hearth.js";
import { sigkill, startHearthProcess, warningsAndErrors, type HearthProcess } from "../support/hearth-process.js";
import { startSecondEngine, type SecondEngine } from "../support/second-engine.js";

const FUNCTION = "spread";
/** Sleeps, so that a load of several in flight needs several containers. */
const HANDLER = `exports.handler = async (event) => { await new Promise((resolve) => setTimeout(resolve, event.sleepMs)); return { n: event.n }; };`;
const SLEEP_MS = 200;
const CONCURRENCY = 10;
/** A lost invoker is noticed after three beats: 1.5 s. */
const HEARTBEAT_MS = 500;
const NODE_IMAGE = process.env.HEARTH_IMAGE_NODE ?? "hearth/runtime-node:latest";

type Host = "a" | "b";
const suffix = randomBytes(4).toString("hex");
const invokerIds: Record<Host, string> = { a: `test-hosts-a-${suffix}`, b: `test-hosts-b-${suffix}` };
const output: string[] = [];
let redis: EmbeddedRedis;
let engine: SecondEngine;
let api: HearthProcess;
const invokers = {} as Record<Host, HearthProcess>;

beforeAll(async () => {
  expect(existsSync("dist/hearth.cjs"), "dist/hearth.cjs is missing: run npm run build").toBe(true);
  redis = await startTestRedis();
  engine = await startSecondEngine([NODE_IMAGE]);
  console.log(`second engine: ${NODE_IMAGE} copied into it in ${engine.imageLoadSeconds.toFixed(1)} s`);
  [api, invokers.a, invokers.b] = await Promise.all([
    startHearthProcess({ roles: "api", redis, invokerId: `test-hosts-api-${suffix}`, output }),
    startInvoker("a"),
    startInvoker("b"),
  ]);
  expect((await deployFunction()).status).toBe(201);
}, 120_000);

afterAll(async () => {
  for (const started of [api, invokers.a, invokers.b]) if (started) await sigkill(started.child);
  for (const info of await listOn("a", { all: true })) await machineDocker.getContainer(info.Id).remove({ force: true }).catch(() => undefined);
  await engine?.remove();
  await redis?.stop();
}, 60_000);

describe("several invoker hosts on one Redis", () => {
  it("runs a function's containers on both hosts under load", async () => {
    onTestFailed(() => console.log(warningsAndErrors(output)));
    const seen = watchHosts();
    const { sync } = await runLoad({ sync: 60, async: 0 });
    const peak = await seen.stop();
    console.log(`containers at most: host a ${peak.a}, host b ${peak.b}`);
    expect(sync.filter((answer) => answer.status !== 200)).toEqual([]);
    for (const { n, body } of sync) expect(body).toEqual({ n });
    expect(peak.a, "containers on the machine's engine").toBeGreaterThan(0);
    expect(peak.b, "containers on the second engine").toBeGreaterThan(0);
  }, 90_000);

  it("answers every caller and loses no async invocation when one host's invoker is SIGKILLed mid-load", async () => {
    onTestFailed(() => console.log(warningsAndErrors(output)));
    await loseHostMidLoad(() => sigkill(invokers.b.child));
    // Its containers outlived it; once it is taken for lost their Redis users go, and so do they.
    await eventually(async () => ((await listOn("b")).length === 0 ? true : undefined), 30_000, "the lost invoker's containers to exit");
  }, 120_000);

  it("answers every caller and loses no async invocation when one host's Docker engine stops mid-load", async () => {
    onTestFailed(() => console.log(warningsAndErrors(output)));
    await restartHostB({ engine: false });
    // SIGTERM, as `systemctl stop docker`: the engine stops its containers, then itself.
    await loseHostMidLoad(() => engine.kill("SIGTERM"));
  }, 120_000);

  it("answers every caller and loses no async invocation when one host's Docker engine is killed mid-load", async () => {
    onTestFailed(() => console.log(warningsAndErrors(output)));
    await restartHostB({ engine: true });
    // SIGKILL: the engine is gone at once, its containers keep running without it (their shims outlive dockerd).
    await loseHostMidLoad(() => engine.kill("SIGKILL"));
  }, 120_000);
});

/**
 * Loads the function (sync and async), strikes host b once it runs containers of the function and
 * some answers have come, then checks what callers got, that every accepted async invocation
 * succeeds, and that a second load, after the loss, is served in full.
 */
async function loseHostMidLoad(strike: () => Promise<void>): Promise<void> {
  // A new version retires the warm containers of the test before: both hosts start containers under this load.
  expect((await deployFunction()).status).toBe(200);
  let answered = 0;
  const loading = runLoad({ sync: 80, async: 40, onAnswer: () => (answered += 1) });
  await eventually(async () => ((await listOn("b")).length > 0 && answered >= 10 ? true : undefined), 30_000, "host b to run containers of the function under load");
  await strike();
  const { sync, accepted } = await loading;

  const failures = sync.filter((answer) => answer.status !== 200);
  console.log(`lost host b mid-load: ${sync.length - failures.length} sync 200, ${failures.length} sync 502 (${[...new Set(failures.map((f) => f.body?.errorType))].join(", ")})`);
  for (const answer of sync) {
    expect([200, 502], JSON.stringify(answer)).toContain(answer.status);
    if (answer.status === 200) expect(answer.body).toEqual({ n: answer.n });
    else expect(answer.body).toMatchObject({ errorType: expect.any(String), errorMessage: expect.any(String) });
  }
  expect(accepted.length, "every async invocation accepted").toBe(40);
  const records = await Promise.all(accepted.map(({ id }) => finalRecord(api.url!, id, 60_000)));
  console.log(`async: attempts per invocation ${JSON.stringify(tally(records.map((record) => record.attempts as number)))}`);
  records.forEach((record, i) => expect(record, accepted[i]!.id).toMatchObject({ status: "succeeded", statusCode: 200, result: { n: accepted[i]!.n } }));

  // After the loss, single cold requests (a new version each: no warm container anywhere), which
  // either invoker may try first: host b's failing start must not answer them.
  for (let n = 0; n < 4; n += 1) {
    expect((await deployFunction()).status).toBe(200);
    const cold = await invoke(api.url!, FUNCTION, { n, sleepMs: 1 });
    expect(cold, "a cold request after the loss").toMatchObject({ status: 200, body: { n } });
  }
  // And a load that needs several new containers, which only host a can start.
  expect((await deployFunction()).status).toBe(200);
  const after = await runLoad({ sync: 30, async: 0 });
  expect(after.sync.filter((answer) => answer.status !== 200)).toEqual([]);
  expect((await listOn("a")).length, "containers on the remaining host").toBeGreaterThan(0);
}

interface SyncAnswer {
  n: number;
  status: number;
  body: any;
}

/** `sync` sync and `async` async invocations, CONCURRENCY in flight, each event numbered. */
async function runLoad(plan: { sync: number; async: number; onAnswer?: () => void }): Promise<{ sync: SyncAnswer[]; accepted: Array<{ id: string; n: number }> }> {
  const sync: SyncAnswer[] = [];
  const accepted: Array<{ id: string; n: number }> = [];
  const calls = [...Array.from({ length: plan.sync }, (_, n) => ({ n, async: false })), ...Array.from({ length: plan.async }, (_, n) => ({ n: plan.sync + n, async: true }))];
  // Async calls spread through the sync ones, so that some are queued or running when a host is lost.
  calls.sort((a, b) => (a.n % 3) - (b.n % 3) || a.n - b.n);
  await inParallel(calls, CONCURRENCY, async ({ n, async }) => {
    const event = { n, sleepMs: SLEEP_MS };
    if (async) {
      const answer = await invokeAsync(api.url!, FUNCTION, event);
      expect(answer.status, JSON.stringify(answer.body)).toBe(202);
      accepted.push({ id: answer.body.id as string, n });
    } else {
      const { status, body } = await invoke(api.url!, FUNCTION, event);
      sync.push({ n, status, body });
    }
    plan.onAnswer?.();
  });
  return { sync, accepted };
}

/** Host b as new after the test before: its engine started again if asked, its invoker restarted (same id: it removes what its last run left). */
async function restartHostB(options: { engine: boolean }): Promise<void> {
  if (options.engine) await engine.restart();
  await sigkill(invokers.b.child);
  invokers.b = await startInvoker("b");
}

function deployFunction(): Promise<Response> {
  return deploy(api.url!, FUNCTION, { runtime: "node", maxContainers: 16, timeout: 10, maxRetries: 5, retryDelay: 0.2 }, { "index.js": HANDLER });
}

async function startInvoker(host: Host): Promise<HearthProcess> {
  const env: NodeJS.ProcessEnv = { HEARTH_INVOKER_HEARTBEAT_MS: String(HEARTBEAT_MS), ...(host === "b" ? { DOCKER_HOST: engine.dockerHost } : {}) };
  return startHearthProcess({ roles: "invoker", redis, invokerId: invokerIds[host], env, output, name: `invoker-${host}` });
}

/** The function's containers on a host's engine, by the invoker's label (none when the engine is down). */
async function listOn(host: Host, options: { all?: boolean } = {}): Promise<Docker.ContainerInfo[]> {
  const docker = host === "a" ? machineDocker : engine.docker;
  return docker.listContainers({ all: options.all ?? false, filters: { label: [`${LABELS.invoker}=${invokerIds[host]}`, `${LABELS.function}=${FUNCTION}`] } }).catch(() => []);
}

/** Polls both engines until stopped: the most containers of the function each ran at once. */
function watchHosts(): { stop(): Promise<Record<Host, number>> } {
  const peak: Record<Host, number> = { a: 0, b: 0 };
  let stopped = false;
  const polling = (async () => {
    while (!stopped) {
      const [a, b] = await Promise.all([listOn("a"), listOn("b")]);
      peak.a = Math.max(peak.a, a.length);
      peak.b = Math.max(peak.b, b.length);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  })();
  return {
    stop: async () => {
      stopped = true;
      await polling;
      return peak;
    },
  };
}

function tally(values: number[]): Record<number, number> {
  const counts: Record<number, number> = {};
  for (const value of values) counts[value] = (counts[value] ?? 0) + 1;
  return counts;
}

async function inParallel<T>(items: T[], concurrency: number, run: (item: T) => Promise<void>): Promise<void> {
  const queue = [...items];
  await Promise.all(Array.from({ length: concurrency }, async () => {
    for (let item = queue.shift(); item !== undefined; item = queue.shift()) await run(item);
  }));
}
