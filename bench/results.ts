// The shape of the JSON a run writes (bench/results/latest.json by default). Times in ms unless named.

import { summarize, type LatencySummary } from "./load/stats.js";
import type { LoadResult } from "./load/spec.js";
import type { CpuPerRequest } from "./services/cpu.js";
import type { ProfileResult } from "./scenarios/profile.js";

export interface LoadRow {
  requests: number;
  failed: number;
  statuses: Record<string, number>;
  latencyMs: LatencySummary;
  ratePerSec: number;
  /** The load worker's CPU: cores busy, and µs per request. */
  clientCpu: { cores: number; usPerRequest: number };
  timeCapped: boolean;
  cpu?: CpuPerRequest;
}

export interface Overhead {
  diffMs: number;
  ratio: number;
}

export interface WarmLevel {
  concurrency: number;
  containers: number;
  direct: LoadRow;
  hearth: LoadRow;
  overhead: { p50: Overhead; p90: Overhead; p99: Overhead };
}

export interface ThroughputRun extends LoadRow {
  target: "hearth" | "direct";
  containers: number;
  concurrency: number;
}

/** Sync throughput through one gateway with its containers on one invoker host or on two. */
export interface HostsRun extends LoadRow {
  hosts: number;
  /** The function's warm containers on each host when the load began. */
  containersPerHost: number[];
  concurrency: number;
}

/** One load of the Redis Cluster section: on the bench's one-node Hearth or on the cluster's. */
export interface ClusterRun extends LoadRow {
  /** 1 and 3 on one node, 2 on the cluster: the passes alternate so that drift shows. */
  pass: number;
  redis: "one node" | "cluster";
  function: string;
  /** On the cluster: the masters (indexes into `masters`) of the function's slot and of the gateway's reply list. */
  placement?: { functionMaster: number; replyMaster: number };
  concurrency: number;
  containers: number;
}

export interface ClusterResult {
  masters: Array<{ port: number; slots: [number, number] }>;
  /** The master of the cluster gateway's reply list (`hearth:replies:{gateway id}`). */
  replyListMaster: number;
  runs: ClusterRun[];
}

/** A peer system doing the warm section's work (a no-op returning its input), at one concurrency. */
export interface PeerRun extends LoadRow {
  peer: "bullmq";
  concurrency: number;
}

/** N warm containers under a light steady load with a short keep-alive: how the load spread, what was left. */
export interface ScaleDownResult {
  containersAtStart: number;
  requests: number;
  statuses: Record<string, number>;
  ratePerSec: number;
  /** Requests served per container (by the result's container id, from the invocation history), most first. */
  perContainer: number[];
  keepAliveSeconds: number;
  /** Containers of the function left keepAlive (plus a margin) after the load stopped. */
  containersAfterKeepAlive: number;
  /** Containers still there when the load ends: it ran for several keep-alives, so only those it kept busy enough. */
  containersAtLoadEnd: number;
}

export interface ColdStartSample {
  containerId: string;
  status: number;
  totalMs: number;
  phasesMs: Record<string, number>;
  /** When the adapter's Node process began (its own clock) after Docker's `start` event: negative when before (not for a stem cell, started long before). */
  processStartAfterDockerStartMs?: number;
}

export interface PercentileRatios {
  p50: number;
  p99: number;
}

export interface ColdStartResult {
  /** The tiny no-op package. */
  samples: number;
  totalMs: LatencySummary;
  /** Each phase over the samples; the phases of one sample add up to its total. */
  phasesMs: Record<string, LatencySummary>;
  phaseNotes: Record<string, string>;
  raw: ColdStartSample[];
  /** A bare container of the runtime image running `true`: create, start, wait, remove (`removeMs` of it). */
  floor: { samples: number; totalMs: LatencySummary; removeMs: LatencySummary };
  /** The no-op handler with incompressible padding: its first cold start on the host (unpacked into the code cache), then cached ones. */
  big: { packageBytes: number; first: ColdStartSample; samples: number; totalMs: LatencySummary; phasesMs: Record<string, LatencySummary>; raw: ColdStartSample[] };
  bigOverTiny: PercentileRatios;
  tinyOverFloor: PercentileRatios;
}

export interface AsyncResult {
  accept: LoadRow;
  /** First accept → the run of the last; CPU per invocation over that time (accepting included). */
  drain: { requests: number; durationMs: number; ratePerSec: number; cpu: CpuPerRequest };
}

export interface FootprintResult {
  idleContainer: { containers: number; workingSetMiB: LatencySummary; rssMiB: LatencySummary };
  inFlight: {
    requests: number;
    held: number;
    queued: number;
    gatewayRssMiB: { idle: number; inFlight: number; after: number };
    gatewayOpenFds: { idle: number; inFlight: number };
    redisConnections: { idle: number; inFlight: number; gatewayIdle: number; gatewayInFlight: number; byNameInFlight: Record<string, number> };
    redisUsedMemoryMiB: { idle: number; inFlight: number };
    answered: Record<string, number>;
  };
}

export interface BenchResult {
  meta: Record<string, unknown>;
  warm?: { levels: WarmLevel[] };
  throughput?: { runs: ThroughputRun[] };
  bullmq?: { runs: PeerRun[] };
  scaleDown?: ScaleDownResult;
  cold?: ColdStartResult;
  /** The same cold start, served by a stem cell (bench/scenarios/stem-cell-start.ts). */
  coldFromStemCell?: Omit<ColdStartResult, "floor" | "big" | "bigOverTiny" | "tinyOverFloor">;
  async?: AsyncResult;
  footprint?: FootprintResult;
  profile?: ProfileResult;
  hosts?: { runs: HostsRun[] };
  cluster?: ClusterResult;
  targets: TargetCheck[];
  errors: Array<{ section: string; message: string }>;
}

export interface TargetCheck {
  name: string;
  target: string;
  measured: string;
  met: boolean | null;
}

/** One load (or several rounds of it, merged) as a report row. */
export function loadRow(results: LoadResult[]): LoadRow {
  const latencies: number[] = [];
  const statuses: Record<string, number> = {};
  let failed = 0;
  let durationMs = 0;
  let ok = 0;
  let clientCpuMs = 0;
  for (const result of results) {
    for (const value of result.latenciesMs) latencies.push(value);
    for (const [status, count] of Object.entries(result.statuses)) {
      statuses[status] = (statuses[status] ?? 0) + count;
      if (Number(status) >= 200 && Number(status) < 300) ok += count;
    }
    failed += result.failed;
    durationMs += result.durationMs;
    clientCpuMs += result.clientCpu.cores * result.durationMs;
  }
  return {
    requests: latencies.length,
    failed,
    statuses,
    latencyMs: summarize(latencies),
    ratePerSec: durationMs > 0 ? (ok * 1000) / durationMs : 0,
    clientCpu: {
      cores: durationMs > 0 ? clientCpuMs / durationMs : 0,
      usPerRequest: latencies.length > 0 ? (clientCpuMs * 1000) / latencies.length : 0,
    },
    timeCapped: results.some((result) => result.timeCapped),
  };
}
