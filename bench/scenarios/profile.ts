// 6. Profile (opt-in, `--profile`): where a warm invocation's time goes at concurrency 1. CPU per
// request of every process on the path (user and kernel), system calls per request (strace), the
// hops measured alone, and with --cpu-prof the gateway's V8 profile (summarized after it exits).

import { summarize, type LatencySummary } from "../load/stats.js";
import type { ProfileSummary } from "../profile/cpuprofile.js";
import { redisPing, redisQueueHop, runtimeApiHop } from "../profile/hops.js";
import { countSyscalls, straceAvailable, type SyscallCounts } from "../profile/syscalls.js";
import type { WarmPool } from "../services/pool.js";
import { processCpuSplitMs } from "../services/proc.js";
import type { Stack } from "../services/stack.js";

export interface ProfileResult {
  requests: number;
  latencyMs: LatencySummary;
  directLatencyMs: LatencySummary;
  /** CPU per request by process, µs: user and kernel time. */
  cpuUsPerRequest: Record<string, { user: number; system: number }>;
  syscallsPerRequest?: Record<string, SyscallCounts>;
  hopsMs: { redisPing: LatencySummary; redisQueueHop: LatencySummary; runtimeApiHop: LatencySummary };
  /** The measured run on the monotonic clock (µs), to cut the gateway's CPU profile to it. */
  window: { fromUs: number; toUs: number };
  gatewayCpu?: ProfileSummary;
}

const monotonicUs = (): number => Number(process.hrtime.bigint() / 1000n);

export async function profileWarmPath(stack: Stack, pool: WarmPool, requests: number, dir: string, log: (line: string) => void): Promise<ProfileResult> {
  const name = await pool.get(1);
  const [dockerId] = await pool.dockerIds(name);
  const pids = { gateway: stack.hearth.pid, redis: await redisPid(stack), ...(await containerPids(stack, dockerId!)) };
  log(`profile: processes ${JSON.stringify(pids)}`);
  const url = `${stack.hearth.url}/function/${name}`;
  await stack.load.run({ url, concurrency: 1, count: 1000, maxDurationMs: 60_000 });
  const direct = await stack.load.run({ url: stack.direct.url, concurrency: 1, count: requests, warmup: 500, maxDurationMs: 60_000 });

  const before = await cpuOf(pids);
  const fromUs = monotonicUs();
  const measured = await stack.load.run({ url, concurrency: 1, count: requests, maxDurationMs: 120_000 });
  const toUs = monotonicUs();
  const after = await cpuOf(pids);
  const cpuUsPerRequest: ProfileResult["cpuUsPerRequest"] = {};
  for (const key of Object.keys(pids)) {
    cpuUsPerRequest[key] = {
      user: ((after[key]!.userMs - before[key]!.userMs) * 1000) / measured.completed,
      system: ((after[key]!.systemMs - before[key]!.systemMs) * 1000) / measured.completed,
    };
  }
  cpuUsPerRequest.client = { user: measured.clientCpu.usPerRequest, system: NaN };

  let syscallsPerRequest: ProfileResult["syscallsPerRequest"];
  if (straceAvailable()) {
    const traced = Math.min(requests, 2000);
    syscallsPerRequest = await countSyscalls(pids, dir, async () => (await stack.load.run({ url, concurrency: 1, count: traced, maxDurationMs: 120_000 })).completed);
  } else log("profile: strace is not installed; no system call counts");

  const hopCount = Math.min(requests, 3000);
  const hopsMs = { redisPing: await redisPing(stack.redisUrl, hopCount), redisQueueHop: await redisQueueHop(stack.redisUrl, hopCount), runtimeApiHop: await runtimeApiHop(hopCount) };
  const latencyMs = summarize(measured.latenciesMs);
  log(`profile: Hearth p50 ${latencyMs.p50.toFixed(3)} ms; hops p50: redis ping ${hopsMs.redisPing.p50.toFixed(3)}, queue ${hopsMs.redisQueueHop.p50.toFixed(3)}, runtime API ${hopsMs.runtimeApiHop.p50.toFixed(3)} ms`);
  return { requests: measured.completed, latencyMs, directLatencyMs: summarize(direct.latenciesMs), cpuUsPerRequest, syscallsPerRequest, hopsMs, window: { fromUs, toUs } };
}

async function redisPid(stack: Stack): Promise<number> {
  return Number(/^process_id:(\d+)/m.exec(await stack.redis.info("server"))?.[1]);
}

/** Host pids of the adapter and the runtime in a container. */
async function containerPids(stack: Stack, dockerId: string): Promise<{ adapter: number; runtime: number }> {
  const top = (await stack.docker.getContainer(dockerId).top()) as { Titles: string[]; Processes: string[][] };
  const pidColumn = top.Titles.indexOf("PID");
  const cmdColumn = top.Titles.indexOf("CMD");
  const find = (pattern: RegExp): number => {
    const row = top.Processes.find((p) => pattern.test(p[cmdColumn] ?? ""));
    if (!row) throw new Error(`no process matching ${pattern} in container ${dockerId}: ${JSON.stringify(top.Processes)}`);
    return Number(row[pidColumn]);
  };
  // docker-init's command line names the adapter too: the adapter is the one Node runs.
  return { adapter: find(/^node .*adapter\.cjs/), runtime: find(/^node .*runtime\/bootstrap/) };
}

async function cpuOf(pids: Record<string, number>): Promise<Record<string, { userMs: number; systemMs: number }>> {
  const result: Record<string, { userMs: number; systemMs: number }> = {};
  for (const [name, pid] of Object.entries(pids)) result[name] = await processCpuSplitMs(pid);
  return result;
}
