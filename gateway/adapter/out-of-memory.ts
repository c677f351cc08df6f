// Tells a runtime killed for the container's memory limit from one killed otherwise: the kernel counts
// its OOM kills in the container's memory cgroup, which the container sees as its own.

import { readFile } from "node:fs/promises";

/** cgroup v2 first, then v1's memory controller (its `oom_kill` line needs Linux 4.13+). */
const OOM_COUNTERS = ["/sys/fs/cgroup/memory.events", "/sys/fs/cgroup/memory/memory.oom_control"];

/** The container's OOM kills so far; 0 when the kernel does not say (no cgroup, too old). */
export async function readOomKills(files: readonly string[] = OOM_COUNTERS): Promise<number> {
  for (const file of files) {
    const text = await readFile(file, "utf8").catch(() => undefined);
    const count = text && /^oom_kill (\d+)$/m.exec(text)?.[1];
    if (count) return Number(count);
  }
  return 0;
}

export class OutOfMemoryDetector {
  private constructor(
    private known: number,
    private readonly files: readonly string[],
  ) {}

  static async start(files: readonly string[] = OOM_COUNTERS): Promise<OutOfMemoryDetector> {
    return new OutOfMemoryDetector(await readOomKills(files), files);
  }

  /** After a process of the container died by SIGKILL: was it (or another) killed for memory since the last look? */
  async killedSinceLastLook(): Promise<boolean> {
    const now = await readOomKills(this.files);
    const killed = now > this.known;
    this.known = now;
    return killed;
  }
}
