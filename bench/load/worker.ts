// The load worker: a child process of its own, so that the client's CPU shows apart from Hearth's and
// the orchestrator's. Node's http client with a keep-alive agent (one socket per lane), a fixed count
// of requests and a time cap, latency taken with performance.now().

import http from "node:http";
import type { LoadResult, LoadSpec, WorkerMessage } from "./spec.js";

async function run(spec: LoadSpec): Promise<LoadResult> {
  const url = new URL(spec.url);
  const body = Buffer.from(spec.body ?? "{}");
  const agent = new http.Agent({ keepAlive: true, maxSockets: spec.concurrency, maxFreeSockets: spec.concurrency });
  const options: http.RequestOptions = {
    agent,
    host: url.hostname,
    port: url.port,
    path: url.pathname + url.search,
    method: spec.method ?? "POST",
    headers: { ...spec.headers, "content-type": "application/json", "content-length": body.length },
  };
  const timeoutMs = spec.timeoutMs ?? 60_000;
  const send = (): Promise<number> =>
    new Promise((resolve) => {
      const req = http.request(options, (res) => {
        res.resume();
        res.on("end", () => resolve(res.statusCode ?? 0));
        res.on("error", () => resolve(0));
      });
      req.setTimeout(timeoutMs, () => req.destroy(new Error("timeout")));
      req.on("error", () => resolve(0));
      req.end(body);
    });

  const warmup = spec.warmup ?? 0;
  const total = warmup + spec.count;
  const latencies = new Float64Array(spec.count);
  const answered = new Uint8Array(spec.count);
  const statuses: Record<string, number> = {};
  let next = 0;
  let failed = 0;
  let ok = 0;
  const deadline = performance.now() + spec.maxDurationMs;
  let measuredStart = 0;
  let measuredEnd = 0;
  let cpuStart: NodeJS.CpuUsage | undefined;

  const lane = async (): Promise<void> => {
    while (next < total && performance.now() < deadline) {
      const index = next++;
      const measured = index >= warmup;
      if (index === warmup) {
        measuredStart = performance.now();
        cpuStart = process.cpuUsage();
      }
      const sentAt = performance.now();
      const status = await send();
      const doneAt = performance.now();
      if (!measured) continue;
      measuredEnd = Math.max(measuredEnd, doneAt);
      if (status === 0) {
        failed += 1;
        continue;
      }
      latencies[index - warmup] = doneAt - sentAt;
      answered[index - warmup] = 1;
      statuses[status] = (statuses[status] ?? 0) + 1;
      if (status >= 200 && status < 300) ok += 1;
    }
  };
  await Promise.all(Array.from({ length: spec.concurrency }, lane));
  agent.destroy();

  const cpu = process.cpuUsage(cpuStart);
  const measuredCount = Math.max(0, next - warmup);
  const kept = latencies.filter((_, i) => i < measuredCount && answered[i] === 1);
  const durationMs = measuredEnd > measuredStart ? measuredEnd - measuredStart : 0;
  const cpuMicros = cpuStart ? cpu.user + cpu.system : 0;
  return {
    completed: kept.length,
    failed,
    statuses,
    durationMs,
    ratePerSec: durationMs > 0 ? (ok * 1000) / durationMs : 0,
    latenciesMs: kept,
    timeCapped: next < total,
    clientCpu: {
      cores: durationMs > 0 ? cpuMicros / 1000 / durationMs : 0,
      usPerRequest: kept.length > 0 ? cpuMicros / kept.length : 0,
    },
  };
}

process.on("message", (message: { type: "run"; spec: LoadSpec } | { type: "exit" }) => {
  if (message.type === "exit") process.exit(0);
  run(message.spec).then(
    (result) => process.send!({ type: "result", result } satisfies WorkerMessage),
    (error: Error) => process.send!({ type: "error", message: error.message } satisfies WorkerMessage),
  );
});
// The parent is gone: so are we.
process.on("disconnect", () => process.exit(0));
