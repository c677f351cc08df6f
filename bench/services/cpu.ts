// CPU time spent by each part during a measured run, per request: the gateway process, redis-server,
// the function's containers (adapter + runtime, from their cgroups), the direct server, the client.

import type { Redis } from "ioredis";
import type { Stack } from "./stack.js";
import { containerCpuMs, machineBusyMs, processCpuMs } from "./proc.js";

export interface CpuSnapshot {
  at: number;
  gatewayMs: number;
  redisMs: number;
  directMs: number;
  containersMs: number;
  /** The whole machine's busy CPU (other users' processes included). */
  machineMs: number;
}

export interface CpuPerRequest {
  /** Microseconds of CPU per request, by part. */
  gatewayUs: number;
  redisUs: number;
  containersUs: number;
  directUs: number;
  /** All parts together (client included, when given), cores busy over the run. */
  coresBusy: number;
  /** Cores kept busy by everything else on the machine meanwhile (a shared machine's noise). */
  othersCores: number;
}

/** A Hearth whose CPU a snapshot reads: its process and every redis-server it uses (the masters of a Cluster). */
export interface HearthCpuParts {
  pid: number;
  redis: Redis[];
}

/** The bench's Hearth unless `hearth` names another. */
export async function cpuSnapshot(stack: Stack, dockerIds: string[], hearth: HearthCpuParts = { pid: stack.hearth.pid, redis: [stack.redis] }): Promise<CpuSnapshot> {
  let redisMs = 0;
  for (const node of hearth.redis) {
    const info = await node.info("cpu");
    const seconds = (field: string): number => Number(new RegExp(`^${field}:([\\d.]+)`, "m").exec(info)?.[1] ?? NaN);
    redisMs += (seconds("used_cpu_sys") + seconds("used_cpu_user")) * 1000;
  }
  let containersMs = 0;
  for (const id of dockerIds) containersMs += (await containerCpuMs(id)) ?? NaN;
  return {
    at: performance.now(),
    gatewayMs: await processCpuMs(hearth.pid),
    redisMs,
    directMs: await processCpuMs(stack.direct.pid),
    containersMs,
    machineMs: await machineBusyMs(),
  };
}

export function cpuPerRequest(before: CpuSnapshot, after: CpuSnapshot, requests: number, clientCoresBusy = 0): CpuPerRequest {
  const per = (key: keyof Omit<CpuSnapshot, "at">): number => (requests > 0 ? ((after[key] - before[key]) * 1000) / requests : NaN);
  const wallMs = after.at - before.at;
  const totalMs = after.gatewayMs - before.gatewayMs + (after.redisMs - before.redisMs) + (after.directMs - before.directMs) + (after.containersMs - before.containersMs);
  const ours = wallMs > 0 ? totalMs / wallMs + clientCoresBusy : NaN;
  return {
    gatewayUs: per("gatewayMs"),
    redisUs: per("redisMs"),
    containersUs: per("containersMs"),
    directUs: per("directMs"),
    coresBusy: ours,
    othersCores: wallMs > 0 ? Math.max(0, (after.machineMs - before.machineMs) / wallMs - ours) : NaN,
  };
}

/** CPU deltas of several runs added up, as one before/after pair for cpuPerRequest. */
export class CpuTally {
  readonly start: CpuSnapshot = { at: 0, gatewayMs: 0, redisMs: 0, directMs: 0, containersMs: 0, machineMs: 0 };
  readonly end: CpuSnapshot = { at: 0, gatewayMs: 0, redisMs: 0, directMs: 0, containersMs: 0, machineMs: 0 };

  add(before: CpuSnapshot, after: CpuSnapshot): void {
    for (const key of ["at", "gatewayMs", "redisMs", "directMs", "containersMs", "machineMs"] as const) this.end[key] += after[key] - before[key];
  }
}
