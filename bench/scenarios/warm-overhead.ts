// 1. Warm overhead: the no-op handler through Hearth (sync, warm containers: one per concurrent
// caller, so no request waits for a container) against the same handler in a plain express app,
// at each concurrency. The two alternate in rounds, so that drift on a shared machine hits both alike.

import type { LoadResult, LoadSpec } from "../load/spec.js";
import type { Plan } from "../options.js";
import { loadRow, type LoadRow, type Overhead, type WarmLevel } from "../results.js";
import { cpuPerRequest, cpuSnapshot, CpuTally } from "../services/cpu.js";
import type { WarmPool } from "../services/pool.js";
import type { Stack } from "../services/stack.js";

export async function warmOverhead(stack: Stack, pool: WarmPool, plan: Plan["warm"], log: (line: string) => void): Promise<{ levels: WarmLevel[] }> {
  const levels: WarmLevel[] = [];
  for (const concurrency of plan.concurrency) {
    const name = await pool.get(concurrency);
    const dockerIds = await pool.dockerIds(name);
    const spec = (url: string): LoadSpec => ({ url, concurrency, count: plan.countPerRound, warmup: Math.ceil(plan.warmup / 10), maxDurationMs: 60_000 });
    const targets = {
      direct: { spec: spec(stack.direct.url), results: [] as LoadResult[], cpu: new CpuTally() },
      hearth: { spec: spec(`${stack.hearth.url}/function/${name}`), results: [] as LoadResult[], cpu: new CpuTally() },
    };
    // Warm-up, not measured: connections, JIT, the containers' code paths.
    for (const target of Object.values(targets)) await stack.load.run({ ...target.spec, count: plan.warmup, warmup: 0 });
    for (let round = 0; round < plan.rounds; round += 1) {
      const order = round % 2 === 0 ? (["direct", "hearth"] as const) : (["hearth", "direct"] as const);
      for (const which of order) {
        const target = targets[which];
        const before = await cpuSnapshot(stack, dockerIds);
        target.results.push(await stack.load.run(target.spec));
        target.cpu.add(before, await cpuSnapshot(stack, dockerIds));
      }
    }
    const row = (which: keyof typeof targets): LoadRow => {
      const { results, cpu } = targets[which];
      const merged = loadRow(results);
      return { ...merged, cpu: cpuPerRequest(cpu.start, cpu.end, merged.requests, merged.clientCpu.cores) };
    };
    const direct = row("direct");
    const hearth = row("hearth");
    const overhead = (p: "p50" | "p90" | "p99"): Overhead => ({ diffMs: hearth.latencyMs[p] - direct.latencyMs[p], ratio: hearth.latencyMs[p] / direct.latencyMs[p] });
    levels.push({ concurrency, containers: concurrency, direct, hearth, overhead: { p50: overhead("p50"), p90: overhead("p90"), p99: overhead("p99") } });
    log(`warm c=${concurrency}: direct p50 ${direct.latencyMs.p50.toFixed(3)} ms, Hearth p50 ${hearth.latencyMs.p50.toFixed(3)} ms`);
  }
  return { levels };
}
