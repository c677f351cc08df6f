// What /proc and the cgroup files say about a process or a container: memory and CPU time, read
// directly (cheap enough to read around every measured run).

import { readFile } from "node:fs/promises";

const CLOCK_TICKS_PER_SECOND = 100;

/** Resident set size of a process, bytes. */
export async function processRss(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, "utf8");
  const match = /^VmRSS:\s+(\d+) kB/m.exec(status);
  return match ? Number(match[1]) * 1024 : NaN;
}

/** User + system CPU time of a process so far, ms (10 ms resolution). */
export async function processCpuMs(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, "utf8");
  // Fields after the command name, which is in parentheses and may hold spaces.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  return ((utime + stime) * 1000) / CLOCK_TICKS_PER_SECOND;
}

/** CPU time of a Docker container's cgroup so far, ms; undefined when the cgroup files are elsewhere. */
export async function containerCpuMs(dockerId: string): Promise<number | undefined> {
  for (const file of [`/sys/fs/cgroup/cpuacct/docker/${dockerId}/cpuacct.usage`, `/sys/fs/cgroup/system.slice/docker-${dockerId}.scope/cpu.stat`, `/sys/fs/cgroup/docker/${dockerId}/cpu.stat`]) {
    const text = await readFile(file, "utf8").catch(() => undefined);
    if (text === undefined) continue;
    if (file.endsWith("cpuacct.usage")) return Number(text) / 1e6;
    const usage = /^usage_usec (\d+)/m.exec(text);
    if (usage) return Number(usage[1]) / 1000;
  }
  return undefined;
}

export interface ContainerMemory {
  /** What `docker stats` shows: usage without the inactive page cache. */
  workingSetBytes: number;
  /** Anonymous memory of its processes. */
  rssBytes: number;
}

/** Memory of a Docker container's cgroup; undefined when the cgroup files are elsewhere. */
export async function containerMemory(dockerId: string): Promise<ContainerMemory | undefined> {
  const v1 = `/sys/fs/cgroup/memory/docker/${dockerId}`;
  const usage = await readFile(`${v1}/memory.usage_in_bytes`, "utf8").catch(() => undefined);
  if (usage !== undefined) {
    const stat = parseStat(await readFile(`${v1}/memory.stat`, "utf8"));
    return { workingSetBytes: Number(usage) - (stat.total_inactive_file ?? 0), rssBytes: stat.total_rss ?? NaN };
  }
  for (const v2 of [`/sys/fs/cgroup/system.slice/docker-${dockerId}.scope`, `/sys/fs/cgroup/docker/${dockerId}`]) {
    const current = await readFile(`${v2}/memory.current`, "utf8").catch(() => undefined);
    if (current === undefined) continue;
    const stat = parseStat(await readFile(`${v2}/memory.stat`, "utf8"));
    return { workingSetBytes: Number(current) - (stat.inactive_file ?? 0), rssBytes: stat.anon ?? NaN };
  }
  return undefined;
}

function parseStat(text: string): Record<string, number> {
  const values: Record<string, number> = {};
  for (const line of text.split("\n")) {
    const [key, value] = line.split(" ");
    if (key && value !== undefined) values[key] = Number(value);
  }
  return values;
}

/** User and system (kernel) CPU time of a process so far, ms (10 ms resolution). */
export async function processCpuSplitMs(pid: number): Promise<{ userMs: number; systemMs: number }> {
  const stat = await readFile(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return { userMs: (Number(fields[11]) * 1000) / CLOCK_TICKS_PER_SECOND, systemMs: (Number(fields[12]) * 1000) / CLOCK_TICKS_PER_SECOND };
}

/** Busy (not idle, not waiting for I/O) CPU time of the whole machine so far, ms, all CPUs together. */
export async function machineBusyMs(): Promise<number> {
  const line = (await readFile("/proc/stat", "utf8")).split("\n")[0]!;
  const [, user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).map(Number);
  return ((user! + nice! + system! + irq! + softirq! + (steal ?? 0)) * 1000) / CLOCK_TICKS_PER_SECOND;
}
