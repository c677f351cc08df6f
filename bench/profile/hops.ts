// The warm path's hops measured alone, on the host, sequentially (concurrency 1), so that the sum
// can be held against a whole invocation: a Redis round trip, Hearth's queue skeleton in Redis
// (LPUSH → BLMOVE wake-up → RPUSH → BLMPOP wake-up, three connections, no Lua), and the Lambda
// Runtime API hop between the adapter's RuntimeApi and the Node runtime (bootstrap.cjs).

import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { copyFile, mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { Redis } from "ioredis";
import { RuntimeApi } from "../../gateway/adapter/runtime-api.js";
import { summarize, type LatencySummary } from "../load/stats.js";
import { NOOP_HANDLER, ROOT } from "../paths.js";

export async function redisPing(url: string, count: number): Promise<LatencySummary> {
  const redis = new Redis(url, { connectionName: "bench-hop" });
  try {
    for (let i = 0; i < 200; i += 1) await redis.ping();
    const samples: number[] = [];
    for (let i = 0; i < count; i += 1) {
      const start = performance.now();
      await redis.ping();
      samples.push(performance.now() - start);
    }
    return summarize(samples);
  } finally {
    redis.disconnect();
  }
}

/** One job through a list and its result back through another, as the gateway and a container do. */
export async function redisQueueHop(url: string, count: number): Promise<LatencySummary> {
  const producer = new Redis(url, { connectionName: "bench-hop-producer" });
  const replies = new Redis(url, { connectionName: "bench-hop-replies" });
  const consumer = new Redis(url, { connectionName: "bench-hop-consumer" });
  const queue = `bench:hop:{${randomUUID()}}`;
  const replyList = `${queue}:replies`;
  let stopped = false;
  const consume = (async () => {
    while (!stopped) {
      const job = await consumer.blmoveBuffer(queue, `${queue}:running`, "RIGHT", "LEFT", 1).catch(() => null);
      if (!job) continue;
      await consumer.pipeline().del(`${queue}:running`).rpush(replyList, job).exec();
    }
  })();
  try {
    const samples: number[] = [];
    for (let i = 0; i < count + 200; i += 1) {
      const start = performance.now();
      await producer.lpush(queue, `job ${i}`);
      await replies.blmpop(5, 1, replyList, "LEFT", "COUNT", 16);
      if (i >= 200) samples.push(performance.now() - start);
    }
    return summarize(samples);
  } finally {
    stopped = true;
    await consume;
    for (const client of [producer, replies, consumer]) client.disconnect();
  }
}

/** The adapter's Runtime API with Hearth's Node runtime (the host's Node) running the no-op handler. */
export async function runtimeApiHop(count: number): Promise<LatencySummary> {
  const taskRoot = await mkdtemp(path.join(os.tmpdir(), "hearth-bench-task-"));
  await copyFile(NOOP_HANDLER, path.join(taskRoot, "index.cjs"));
  const api = new RuntimeApi({ name: "hop", version: 1, handler: "index.handler", memoryMb: 256, timeoutSeconds: 30, region: "local", arn: "arn:aws:lambda:local:0:function:hop" });
  const port = await api.listen();
  const child = spawn(process.execPath, [path.join(ROOT, "images", "node", "bootstrap.cjs")], {
    cwd: taskRoot,
    stdio: ["ignore", "inherit", "inherit"],
    env: { PATH: process.env.PATH, AWS_LAMBDA_RUNTIME_API: `127.0.0.1:${port}`, _HANDLER: "index.handler", LAMBDA_TASK_ROOT: taskRoot, AWS_LAMBDA_FUNCTION_NAME: "hop" },
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  try {
    const readiness = await api.waitReady();
    if (!readiness.ready) throw new Error("the runtime did not start");
    const payload = Buffer.from("{}");
    const samples: number[] = [];
    for (let i = 0; i < count + 200; i += 1) {
      const start = performance.now();
      const outcome = await api.invoke({ id: randomUUID(), payload, deadlineMs: Date.now() + 30_000, retryCount: 0 });
      if (outcome.kind !== "response") throw new Error(`runtime answered ${outcome.kind}`);
      if (i >= 200) samples.push(performance.now() - start);
    }
    return summarize(samples);
  } finally {
    child.kill("SIGKILL");
    await exited;
    api.close();
    await rm(taskRoot, { recursive: true, force: true });
  }
}
