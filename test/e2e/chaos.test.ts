// Chaos: async invocation loses nothing. While a batch of async invocations runs, a container, the
// invoker process and the API process are SIGKILLed at random moments (the processes are started
// again). Every invocation must end succeeded with its own result, having run at least once, and run
// again only where a crash cut an execution short: at most once more per crash that touched it, so
// exactly once when none did.
//
// "Touched" by a crash, soundly (it may include more than the crash really hit, never fewer):
// - a container kill can cut short only what that container had begun before it died; an invoker
//   kill, what its containers had begun before the restarted invoker removed them. So: the ids not
//   yet finished just before the kill whose handler began (by its own clock, the host's) before the
//   kill had taken full effect (the container dead; the new invoker ready, its old containers gone);
// - an API kill touches none: the API process accepts and schedules, it runs nothing.

import type { ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { rm } from "node:fs/promises";
import path from "node:path";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from "vitest";
import { LABELS } from "../../gateway/invoker/docker-backend.js";
import { functionKeys, invocationRecordKey } from "../../gateway/protocol/keys.js";
import type { EmbeddedRedis } from "../../gateway/redis/embedded-redis.js";
import { getInvocation, invokeAsync, startReceiver, type ReceivedCall } from "../support/async.js";
import { deploy, docker, eventually, listContainers, startTestRedis, TEST_CODE_CACHE_DIR } from "../support/hearth.js";
import { sigkill, startHearthProcess as startProcess, warningsAndErrors, type HearthProcess } from "../support/hearth-process.js";

const FUNCTION = "chaos";
const BATCH = 160;
const MAX_CONTAINERS = 3;
const TERMINAL = new Set(["succeeded", "failed", "dead-lettered", "cancelled"]);
type Crash = "container" | "invoker" | "api";

/** Reports each execution's begin and end (with the handler's clock), sleeps, answers from the event. */
const CHAOS_HANDLER = `
const http = require("node:http");
// A connection per report: a kept-alive socket can go stale while the runtime is frozen.
const report = (url, body) => new Promise((resolve, reject) => {
  const req = http.request(url, { method: "POST", agent: false }, (res) => { res.resume(); res.on("end", resolve); });
  req.on("error", reject);
  req.end(body);
});
exports.handler = async (event, context) => {
  const id = context.awsRequestId;
  await report(event.report, JSON.stringify({ id, phase: "begin", at: Date.now() }));
  await new Promise((resolve) => setTimeout(resolve, event.sleepMs));
  await report(event.report, JSON.stringify({ id, phase: "end", at: Date.now() }));
  return { n: event.n, square: event.n * event.n };
};
`;

interface CrashRecord {
  crash: Crash;
  /** Share of the batch finished when it struck. */
  progress: number;
  /** Ids not yet finished just before it. */
  pending: Set<string>;
  /** Failed attempts waiting for their retry just before it. */
  retriesWaiting: number;
  /** When it had taken full effect (epoch ms). */
  effectiveAt: number;
}

const invokerId = `test-chaos-${randomBytes(4).toString("hex")}`;
const keys = functionKeys(FUNCTION);
/** Every Hearth process the test started, so that none outlives it. */
const children = new Set<ChildProcess>();
/** Every process's output, for the report of a failing run. */
const output: string[] = [];
let redis: EmbeddedRedis;
let client: Redis;
let receiver: Awaited<ReturnType<typeof startReceiver>>;
let api: HearthProcess;
let invoker: HearthProcess;

beforeAll(async () => {
  expect(existsSync("dist/hearth.cjs"), "dist/hearth.cjs is missing: run npm run build").toBe(true);
  redis = await startTestRedis();
  client = new Redis(redis.url);
  receiver = await startReceiver();
  [api, invoker] = await Promise.all([startHearthProcess("api"), startHearthProcess("invoker")]);
  // Retries enough that crashes never dead-letter; a first retry 0.25-0.5 s after its crash, still
  // waiting when the API is killed right after that crash.
  const deployed = await deploy(api.url!, FUNCTION, { runtime: "node", maxContainers: MAX_CONTAINERS, maxRetries: 10, retryDelay: 0.5, timeout: 10, network: "host" }, { "index.js": CHAOS_HANDLER });
  expect(deployed.status).toBe(201);
});

afterAll(async () => {
  for (const child of children) await sigkill(child);
  for (const info of await listContainers(invokerId)) await docker.getContainer(info.Id).remove({ force: true }).catch(() => undefined);
  await receiver?.close();
  client?.disconnect();
  await redis?.stop();
  await rm(path.join(TEST_CODE_CACHE_DIR, invokerId), { recursive: true, force: true });
});

describe("async invocation under chaos", () => {
  it("finishes every invocation, once unless a crash interrupted it, through container, invoker and API kills", async () => {
    onTestFailed(() => console.log(`hearth processes' warnings and errors:\n${warningsAndErrors(output)}`));
    const startedAt = Date.now();

    const expected = new Map<string, { n: number; square: number }>();
    const events = Array.from({ length: BATCH }, (_, n) => ({ n, sleepMs: 20 + Math.floor(Math.random() * 280), report: receiver.url }));
    await inParallel(events, 10, async (event) => {
      const accepted = await invokeAsync(api.url!, FUNCTION, event);
      expect(accepted.status).toBe(202);
      expected.set(accepted.body.id as string, { n: event.n, square: event.n * event.n });
    });
    const ids = [...expected.keys()];

    // Container and invoker kills strike when a random share of the batch (5% to 60%) has finished, in
    // a random order. The API kill follows one of them at once, while the retries it caused wait: the
    // API's only part in a running batch is putting due retries back in the queue.
    const plan = shuffle<Crash>(["container", "container", "invoker"]);
    const thresholds = plan.map(() => 0.05 + Math.random() * 0.55).sort((a, b) => a - b);
    const apiAfter = Math.floor(Math.random() * plan.length);
    const crashes: CrashRecord[] = [];
    const crashNow = async (crash: Crash): Promise<void> => {
      const [pending, retriesWaiting] = await Promise.all([pendingIds(ids), client.zcard(keys.retries)]);
      await strike(crash);
      crashes.push({ crash, progress: 1 - pending.length / BATCH, pending: new Set(pending), retriesWaiting, effectiveAt: Date.now() });
    };
    for (const [i, crash] of plan.entries()) {
      await eventually(async () => ((await finishedShare(ids)) >= thresholds[i]! ? true : undefined), 60_000, `${Math.round(thresholds[i]! * 100)}% of the batch to finish`);
      await crashNow(crash);
      if (i === apiAfter) await crashNow("api");
    }
    for (const { crash, pending } of crashes) expect(pending.size, `the batch was still running at the ${crash} kill`).toBeGreaterThan(0);

    const unfinished = await eventually(async () => ((await pendingIds(ids)).length === 0 ? [] : undefined), 90_000, "every invocation to finish").catch(() => pendingIds(ids));
    const stuck = await Promise.all(unfinished.map((id) => client.hmget(invocationRecordKey(id)!, "id", "status", "attempts", "container", "nextAttemptAt")));
    expect(stuck, "invocations that never finished: id, status, attempts, container, nextAttemptAt").toEqual([]);
    const records = new Map(await Promise.all(ids.map(async (id) => [id, await getInvocation(api.url!, id)] as const)));

    const reports = parseReports(receiver.calls);
    // How many crashes touched each id: each can have cut short at most one of its executions.
    const touched = new Map<string, number>();
    for (const { crash, pending, effectiveAt } of crashes) {
      if (crash === "api") continue;
      for (const id of pending) if ((reports.get(id)?.begins ?? []).some((at) => at <= effectiveAt)) touched.set(id, (touched.get(id) ?? 0) + 1);
    }

    const executions = ids.map((id) => reports.get(id)?.begins.length ?? 0);
    console.log(
      [
        `chaos: ${BATCH} async invocations, ${MAX_CONTAINERS} containers at most, ${((Date.now() - startedAt) / 1000).toFixed(1)} s`,
        `  crashes: ${crashes.map((c) => `${c.crash} at ${Math.round(c.progress * 100)}% (${c.pending.size} pending, ${c.retriesWaiting} retries waiting)`).join(", ")}`,
        `  executions per id: ${histogram(executions)}; attempts per id: ${histogram(ids.map((id) => records.get(id).attempts as number))}`,
        `  touched by a crash: ${touched.size}; run more than once: ${executions.filter((count) => count > 1).length}`,
      ].join("\n"),
    );

    expect([...reports.keys()].filter((id) => !expected.has(id)), "executions of ids never accepted").toEqual([]);
    for (const id of ids) {
      const record = records.get(id);
      const { begins = [], ends = [] } = reports.get(id) ?? {};
      const about = `${id}: ${JSON.stringify({ status: record.status, attempts: record.attempts, begins: begins.length, ends: ends.length, touched: touched.get(id) ?? 0 })}`;
      expect(record, about).toMatchObject({ status: "succeeded", statusCode: 200, result: expected.get(id) });
      expect(begins.length, about).toBeGreaterThanOrEqual(1);
      expect(ends.length, about).toBeGreaterThanOrEqual(1);
      // Every execution was an attempt; an attempt may end before its handler began (a crash in between).
      expect(record.attempts, about).toBeGreaterThanOrEqual(begins.length);
      // Only a crash runs an invocation again: once per crash that touched it at most, else exactly once.
      expect(begins.length, about).toBeLessThanOrEqual(1 + (touched.get(id) ?? 0));
      if (!touched.has(id)) expect(ends.length, about).toBe(1);
    }
    // Nothing left behind that could run again: no queued or running envelope, no retry, no dead letter.
    const leftovers = await client.pipeline().llen(keys.queue).zcard(keys.asyncQueued).zcard(keys.retries).zcard(keys.deadLetters).exec();
    expect(leftovers!.map(([, count]) => count)).toEqual([0, 0, 0, 0]);
    expect(await client.keys(keys.running("*"))).toEqual([]);
  }, 170_000);
});

async function strike(crash: Crash): Promise<void> {
  switch (crash) {
    case "container":
      return killBusyContainer();
    case "invoker":
      await sigkill(invoker.child);
      // Ready means its start-up has removed the containers of its earlier run and released their work.
      invoker = await startHearthProcess("invoker");
      return;
    case "api":
      await sigkill(api.child);
      api = await startHearthProcess("api");
      return;
  }
}

/** SIGKILLs a container of the function that is running an invocation, and waits until it is dead. */
async function killBusyContainer(): Promise<void> {
  const busy = await eventually(async () => {
    const running = (await listContainers(invokerId, FUNCTION)).filter((info) => info.State === "running");
    const lengths = await Promise.all(running.map((info) => client.llen(keys.running(info.Labels[LABELS.container]!))));
    const withWork = running.filter((_, i) => lengths[i]! > 0);
    return withWork.length > 0 ? withWork[Math.floor(Math.random() * withWork.length)] : undefined;
  }, 30_000, "a container running an invocation");
  const container = docker.getContainer(busy.Id);
  await container.kill({ signal: "SIGKILL" });
  await eventually(async () => {
    try {
      return (await container.inspect()).State.Running ? undefined : true;
    } catch (error) {
      if ((error as { statusCode?: number }).statusCode === 404) return true; // auto-removed
      throw error;
    }
  }, 30_000, "the killed container to stop");
}

/** `node dist/hearth.cjs` with the one role, on the test's Redis; resolves once it is running. */
async function startHearthProcess(role: "api" | "invoker"): Promise<HearthProcess> {
  const started = await startProcess({ roles: role, redis, invokerId, env: { HEARTH_CONTAINER_NETWORKS: "host", HEARTH_CODE_CACHE_DIR: TEST_CODE_CACHE_DIR }, output });
  children.add(started.child);
  return started;
}

/** The ids whose record is not final yet, read from Redis (the API may be down). */
async function pendingIds(ids: string[]): Promise<string[]> {
  const pipeline = client.pipeline();
  for (const id of ids) pipeline.hget(invocationRecordKey(id)!, "status");
  const statuses = (await pipeline.exec())!.map(([, status]) => status as string | null);
  return ids.filter((_, i) => !TERMINAL.has(statuses[i] ?? ""));
}

async function finishedShare(ids: string[]): Promise<number> {
  return 1 - (await pendingIds(ids)).length / ids.length;
}

/** The handler's begin and end times per invocation id. */
function parseReports(calls: ReceivedCall[]): Map<string, { begins: number[]; ends: number[] }> {
  const byId = new Map<string, { begins: number[]; ends: number[] }>();
  for (const call of calls) {
    const { id, phase, at } = JSON.parse(call.body) as { id: string; phase: "begin" | "end"; at: number };
    if (!byId.has(id)) byId.set(id, { begins: [], ends: [] });
    byId.get(id)![phase === "begin" ? "begins" : "ends"].push(at);
  }
  return byId;
}

/** "1: 150 ids, 2: 10 ids": how many ids had each count. */
function histogram(counts: number[]): string {
  const tally = new Map<number, number>();
  for (const count of counts) tally.set(count, (tally.get(count) ?? 0) + 1);
  return [...tally.entries()]
    .sort(([a], [b]) => a - b)
    .map(([count, ids]) => `${count}: ${ids} ids`)
    .join(", ");
}

function shuffle<T>(items: T[]): T[] {
  const shuffled = [...items];
  for (let i = shuffled.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [shuffled[i], shuffled[j]] = [shuffled[j]!, shuffled[i]!];
  }
  return shuffled;
}

async function inParallel<T>(items: T[], concurrency: number, run: (item: T) => Promise<void>): Promise<void> {
  const queue = [...items];
  await Promise.all(Array.from({ length: concurrency }, async () => {
    for (let item = queue.shift(); item !== undefined; item = queue.shift()) await run(item);
  }));
}
