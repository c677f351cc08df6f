// CPU and memory of this invoker's containers by function, from Docker's stats (the containers'
// cgroups), read when the metrics are scraped.

import type Docker from "dockerode";

export interface FunctionUsage {
  function: string;
  /** CPU time the function's containers on this host have used since this process started. */
  cpuSeconds: number;
  /** Memory its running containers use now (their cgroups' usage less inactive file cache, as `docker stats` shows). */
  memoryBytes: number;
}

export interface RunningContainer {
  function: string;
  dockerId: string;
}

/** Scrapes within this long of a read share it: one stats call per container, whatever scrapes a moment. */
const READ_REUSE_MS = 1000;

export class ContainerUsage {
  /** CPU seconds each running container had used at the last read. */
  private readonly lastCpuSeconds = new Map<string, number>();
  /**
   * CPU seconds by function, the sum of what each container used between reads: a counter that
   * does not drop when a container exits (what a container used after the last read is not seen).
   */
  private readonly cpuSeconds = new Map<string, number>();
  private lastRead?: { at: number; usage: Promise<FunctionUsage[]> };

  constructor(
    private readonly docker: Docker,
    private readonly running: () => RunningContainer[],
  ) {}

  read(): Promise<FunctionUsage[]> {
    if (!this.lastRead || Date.now() - this.lastRead.at > READ_REUSE_MS) this.lastRead = { at: Date.now(), usage: this.sample() };
    return this.lastRead.usage;
  }

  /** A deleted function's totals go with it. */
  forgetFunction(fn: string): void {
    this.cpuSeconds.delete(fn);
  }

  private async sample(): Promise<FunctionUsage[]> {
    const running = this.running();
    // one-shot: the current values only, without waiting a second for a second sample.
    const stats = await Promise.all(
      running.map((container) =>
        this.docker
          .getContainer(container.dockerId)
          .stats({ stream: false, "one-shot": true })
          .then((stats) => ({ ...container, stats }))
          .catch(() => undefined),
      ),
    );
    const memory = new Map<string, number>();
    const seen = new Set<string>();
    for (const entry of stats) {
      // An exited container answers zeros (or nothing): it counts no more.
      const cpuSeconds = (entry?.stats.cpu_stats?.cpu_usage?.total_usage ?? 0) / 1e9;
      if (!entry || cpuSeconds === 0) continue;
      seen.add(entry.dockerId);
      const used = cpuSeconds - (this.lastCpuSeconds.get(entry.dockerId) ?? 0);
      this.lastCpuSeconds.set(entry.dockerId, cpuSeconds);
      this.cpuSeconds.set(entry.function, (this.cpuSeconds.get(entry.function) ?? 0) + Math.max(0, used));
      memory.set(entry.function, (memory.get(entry.function) ?? 0) + workingSetBytes(entry.stats.memory_stats));
    }
    for (const dockerId of this.lastCpuSeconds.keys()) if (!seen.has(dockerId)) this.lastCpuSeconds.delete(dockerId);
    return [...this.cpuSeconds].map(([fn, cpuSeconds]) => ({ function: fn, cpuSeconds, memoryBytes: memory.get(fn) ?? 0 }));
  }
}

/** cgroup v1 names the inactive file cache `total_inactive_file`, v2 `inactive_file`. */
function workingSetBytes(memory: Docker.ContainerStats["memory_stats"] | undefined): number {
  const usage = memory?.usage ?? 0;
  const stats = (memory?.stats ?? {}) as Record<string, number | undefined>;
  return Math.max(0, usage - (stats.total_inactive_file ?? stats.inactive_file ?? 0));
}
