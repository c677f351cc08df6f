// 6. A peer for the warm rows: BullMQ, the common Node answer to "run this job elsewhere and give me
// the result". The bench process adds a job and awaits its result (QueueEvents) from a Node worker in
// another process, on the bench's own redis-server, at the warm section's concurrencies; the worker's
// handler is the same no-op (returns its input). The producer is a closed loop like the load worker's.

import { fork } from "node:child_process";
import { performance } from "node:perf_hooks";
import { Queue, QueueEvents } from "bullmq";
import type { LoadResult } from "../load/spec.js";
import type { Plan } from "../options.js";
import { BULLMQ_WORKER_ENTRY } from "../paths.js";
import { bullmqConnection, BULLMQ_QUEUE } from "../peers/bullmq-connection.js";
import { loadRow, type PeerRun } from "../results.js";
import { stopChild } from "../services/hearth-process.js";
import type { Stack } from "../services/stack.js";

/** A job unanswered for this long counts as failed. */
const JOB_TIMEOUT_MS = 10_000;
/** Finished jobs kept (the newest), far more than are ever in flight. */
const KEPT_JOBS = { count: 1_000 };

export async function bullmqPeer(stack: Stack, plan: Plan["bullmq"], log: (line: string) => void): Promise<{ runs: PeerRun[] }> {
  const widest = Math.max(...plan.concurrency);
  const child = fork(BULLMQ_WORKER_ENTRY, [stack.redisUrl, String(widest)], { stdio: ["ignore", "inherit", "inherit", "ipc"] });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const connection = bullmqConnection(stack.redisUrl);
  const queue = new Queue(BULLMQ_QUEUE, { connection });
  const events = new QueueEvents(BULLMQ_QUEUE, { connection });
  // Every job added and awaited listens for the queue's and the events' closing until it settles.
  queue.setMaxListeners(widest + 10);
  events.setMaxListeners(widest + 10);
  try {
    await new Promise<void>((resolve, reject) => {
      child.once("message", () => resolve());
      void exited.then(() => reject(new Error("the BullMQ worker exited at start")));
    });
    await events.waitUntilReady();
    const runs: PeerRun[] = [];
    for (const concurrency of plan.concurrency) {
      await closedLoop(queue, events, concurrency, plan.warmup, plan.maxDurationMs); // connections, JIT: not measured
      const row = loadRow([await closedLoop(queue, events, concurrency, plan.count, plan.maxDurationMs)]);
      runs.push({ peer: "bullmq", concurrency, ...row });
      log(`bullmq c=${concurrency}: p50 ${row.latencyMs.p50.toFixed(3)} ms, ${row.ratePerSec.toFixed(0)}/s`);
    }
    return { runs };
  } finally {
    await events.close();
    await queue.obliterate({ force: true }).catch(() => undefined);
    await queue.close();
    await stopChild(child, exited, 5_000);
  }
}

/** `count` jobs, `concurrency` at once, none started after maxDurationMs. */
async function closedLoop(queue: Queue, events: QueueEvents, concurrency: number, count: number, maxDurationMs: number): Promise<LoadResult> {
  const latencies: number[] = [];
  const statuses: Record<string, number> = {};
  let failed = 0;
  let next = 0;
  const started = performance.now();
  const deadline = Date.now() + maxDurationMs;
  const cpuBefore = process.cpuUsage();
  const lane = async (): Promise<void> => {
    while (next < count && Date.now() < deadline) {
      const index = next++;
      const sent = performance.now();
      try {
        // Kept for a while: a job removed at once can be gone before waitUntilFinished looks for it.
        const job = await queue.add("noop", { index }, { removeOnComplete: KEPT_JOBS, removeOnFail: KEPT_JOBS });
        await job.waitUntilFinished(events, JOB_TIMEOUT_MS);
        latencies.push(performance.now() - sent);
        statuses["200"] = (statuses["200"] ?? 0) + 1;
      } catch {
        failed += 1;
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, lane));
  const durationMs = performance.now() - started;
  const cpu = process.cpuUsage(cpuBefore);
  const cpuMs = (cpu.user + cpu.system) / 1000;
  return {
    completed: latencies.length,
    failed,
    statuses,
    durationMs,
    ratePerSec: durationMs > 0 ? (latencies.length * 1000) / durationMs : 0,
    latenciesMs: Float64Array.from(latencies),
    timeCapped: next < count,
    clientCpu: { cores: durationMs > 0 ? cpuMs / durationMs : 0, usPerRequest: latencies.length ? (cpuMs * 1000) / latencies.length : 0 },
  };
}
