// 2. Throughput at saturation: a closed loop keeping several requests per container in flight (so
// that a container always finds its next request queued), for 1, 4 and 16 warm containers (the full
// plan), capped at maxConcurrency in flight so that more containers is the only thing that grows; the
// direct express server at the largest concurrency, for scale.

import type { Plan } from "../options.js";
import { loadRow, type ThroughputRun } from "../results.js";
import { cpuPerRequest, cpuSnapshot } from "../services/cpu.js";
import type { WarmPool } from "../services/pool.js";
import type { Stack } from "../services/stack.js";

export async function throughput(stack: Stack, pool: WarmPool, plan: Plan["throughput"], log: (line: string) => void): Promise<{ runs: ThroughputRun[] }> {
  const runs: ThroughputRun[] = [];
  const measure = async (target: "hearth" | "direct", containers: number, url: string, concurrency: number, dockerIds: string[]): Promise<void> => {
    const before = await cpuSnapshot(stack, dockerIds);
    const result = await stack.load.run({ url, concurrency, count: plan.count, warmup: plan.warmup, maxDurationMs: plan.maxDurationMs });
    const after = await cpuSnapshot(stack, dockerIds);
    const row = loadRow([result]);
    runs.push({ target, containers, concurrency, ...row, cpu: cpuPerRequest(before, after, row.requests, row.clientCpu.cores) });
    log(`throughput ${target} ${containers} container(s), ${concurrency} in flight: ${row.ratePerSec.toFixed(0)}/s, p99 ${row.latencyMs.p99.toFixed(2)} ms`);
  };
  const inFlight = (containers: number): number => Math.min(containers * plan.lanesPerContainer, plan.maxConcurrency);
  for (const containers of plan.containers) {
    const name = await pool.get(containers);
    await measure("hearth", containers, `${stack.hearth.url}/function/${name}`, inFlight(containers), await pool.dockerIds(name));
  }
  const widest = inFlight(Math.max(...plan.containers));
  await measure("direct", 0, stack.direct.url, widest, []);
  return { runs };
}
