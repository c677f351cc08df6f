// System calls per request, by process: `strace -c -f -p PID` attached for the length of a run.
// strace stops a process at every call, so a traced run is slow: only its counts are used.

import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { sleep } from "../services/hearth-api.js";

export interface SyscallCounts {
  /** System calls per request, all threads of the process. */
  perRequest: number;
  top: Array<{ syscall: string; perRequest: number }>;
}

export function straceAvailable(): boolean {
  return spawnSync("strace", ["-V"], { stdio: "ignore" }).status === 0;
}

/** Attaches strace to each process, runs `during`, detaches, and counts per request. */
export async function countSyscalls(pids: Record<string, number>, dir: string, during: () => Promise<number>): Promise<Record<string, SyscallCounts>> {
  const tracers: Array<{ name: string; file: string; child: ChildProcess; exited: Promise<void> }> = [];
  for (const [name, pid] of Object.entries(pids)) {
    const file = path.join(dir, `strace-${name}.txt`);
    const child = spawn("strace", ["-c", "-f", "-q", "-p", String(pid), "-o", file], { stdio: "ignore" });
    tracers.push({ name, file, child, exited: new Promise((resolve) => child.once("exit", () => resolve())) });
  }
  await sleep(500); // attached to every thread
  let requests = 0;
  try {
    requests = await during();
  } finally {
    for (const tracer of tracers) tracer.child.kill("SIGINT");
    await Promise.all(tracers.map((tracer) => tracer.exited));
  }
  const counts: Record<string, SyscallCounts> = {};
  for (const tracer of tracers) {
    const rows = parseStraceSummary(await readFile(tracer.file, "utf8").catch(() => ""));
    const total = rows.reduce((sum, row) => sum + row.calls, 0);
    counts[tracer.name] = {
      perRequest: total / Math.max(1, requests),
      top: rows
        .sort((a, b) => b.calls - a.calls)
        .slice(0, 6)
        .map((row) => ({ syscall: row.syscall, perRequest: row.calls / Math.max(1, requests) })),
    };
  }
  return counts;
}

function parseStraceSummary(text: string): Array<{ syscall: string; calls: number }> {
  const rows: Array<{ syscall: string; calls: number }> = [];
  for (const line of text.split("\n")) {
    const fields = line.trim().split(/\s+/);
    if (fields.length < 5 || !/^[\d.]+$/.test(fields[0]!)) continue;
    const syscall = fields[fields.length - 1]!;
    if (syscall === "total") continue;
    rows.push({ syscall, calls: Number(fields[3]) });
  }
  return rows;
}
