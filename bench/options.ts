// Command line: `npm run bench -- [--smoke] [--out FILE] [--image TAG] [--gateway FILE] [--only a,b] [--profile] [--cpu-prof DIR]`.
// --profile runs the profile section (alone, unless --only names others too); --cpu-prof DIR runs the
// gateway under V8's sampling profiler, whose own signals and threads then count in every number.
// The full plan takes a few minutes; --smoke runs every section with tiny counts (CI keeps the
// harness working with it; its numbers mean nothing).

import path from "node:path";
import { HEARTH_ENTRY, ROOT } from "./paths.js";

export const SECTIONS = ["warm", "throughput", "cold", "async", "footprint", "bullmq", "scale-down", "hosts", "cluster", "profile"] as const;
/**
 * What a run measures unless told otherwise: the profile runs only when asked for (--profile DIR),
 * the invoker hosts (a second dockerd, root only) and the Redis Cluster (three more redis-servers and
 * a second Hearth) when named (--only hosts, --only cluster).
 */
const DEFAULT_SECTIONS: Section[] = ["warm", "throughput", "cold", "async", "footprint", "bullmq", "scale-down"];
export type Section = (typeof SECTIONS)[number];

export interface Plan {
  warm: { concurrency: number[]; rounds: number; countPerRound: number; warmup: number };
  throughput: { containers: number[]; lanesPerContainer: number; maxConcurrency: number; count: number; warmup: number; maxDurationMs: number };
  cold: { samples: number };
  async: { count: number; concurrency: number; containers: number };
  footprint: { inFlight: number; idleContainers: number };
  /** The BullMQ peer: jobs measured and before them not, at each concurrency (the warm section's). */
  bullmq: { concurrency: number[]; count: number; warmup: number; maxDurationMs: number };
  scaleDown: { containers: number; keepAliveSeconds: number; ratePerSec: number; seconds: number };
  /** One invoker host, then two (the second on a second Docker engine): the same warm containers in all, the same load. */
  hosts: { containers: number; concurrency: number; count: number; warmup: number; maxDurationMs: number };
  /** One node, then a three-master Cluster, then one node: latency at 1 in flight (latencyCount), throughput at `concurrency` (throughputCount), each capped at maxDurationMs. */
  cluster: { containers: number; concurrency: number; latencyCount: number; throughputCount: number; warmup: number; maxDurationMs: number };
  profile: { requests: number };
}

export interface BenchOptions {
  mode: "full" | "smoke";
  plan: Plan;
  out: string;
  /** The Node runtime image Hearth starts (HEARTH_IMAGE_NODE). */
  image: string;
  /** The Hearth program to run (dist/hearth.cjs): another build, to compare two in the same conditions. */
  gateway: string;
  sections: Section[];
  /** Where the profile section leaves strace's summaries. */
  profileDir: string;
  /** When set, the gateway runs with --cpu-prof and writes its profile here (summarized by the profile section). */
  cpuProfileDir?: string;
}

const FULL: Plan = {
  warm: { concurrency: [1, 16], rounds: 3, countPerRound: 3000, warmup: 300 },
  throughput: { containers: [1, 4, 16], lanesPerContainer: 4, maxConcurrency: 16, count: 30_000, warmup: 500, maxDurationMs: 10_000 },
  cold: { samples: 30 },
  async: { count: 5000, concurrency: 16, containers: 4 },
  footprint: { inFlight: 1000, idleContainers: 4 },
  bullmq: { concurrency: [1, 16], count: 9000, warmup: 300, maxDurationMs: 60_000 },
  scaleDown: { containers: 4, keepAliveSeconds: 5, ratePerSec: 10, seconds: 30 },
  hosts: { containers: 8, concurrency: 16, count: 20_000, warmup: 500, maxDurationMs: 10_000 },
  cluster: { containers: 4, concurrency: 4, latencyCount: 3000, throughputCount: 20_000, warmup: 300, maxDurationMs: 15_000 },
  profile: { requests: 5000 },
};

const SMOKE: Plan = {
  warm: { concurrency: [1, 4], rounds: 1, countPerRound: 30, warmup: 5 },
  throughput: { containers: [1, 2, 4], lanesPerContainer: 2, maxConcurrency: 16, count: 60, warmup: 5, maxDurationMs: 2_000 },
  cold: { samples: 2 },
  async: { count: 20, concurrency: 4, containers: 1 },
  footprint: { inFlight: 40, idleContainers: 4 },
  bullmq: { concurrency: [1, 4], count: 30, warmup: 5, maxDurationMs: 5_000 },
  scaleDown: { containers: 2, keepAliveSeconds: 2, ratePerSec: 10, seconds: 2 },
  hosts: { containers: 2, concurrency: 4, count: 60, warmup: 5, maxDurationMs: 2_000 },
  cluster: { containers: 2, concurrency: 2, latencyCount: 30, throughputCount: 60, warmup: 5, maxDurationMs: 2_000 },
  profile: { requests: 200 },
};

/** A bad command line: its message is all the user needs. */
export class UsageError extends Error {}

export function parseOptions(argv: string[], env: NodeJS.ProcessEnv): BenchOptions {
  let smoke = env.HEARTH_BENCH_SMOKE === "1";
  let out = path.join(ROOT, "bench", "results", "latest.json");
  let image = env.HEARTH_IMAGE_NODE ?? "hearth/runtime-node:latest";
  let gateway = HEARTH_ENTRY;
  let sections: Section[] = [...DEFAULT_SECTIONS];
  let only = false;
  let profile = false;
  let cpuProfileDir: string | undefined;
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i]!;
    const value = (): string => {
      const next = argv[++i];
      if (next === undefined) throw new UsageError(`${arg} needs a value`);
      return next;
    };
    if (arg === "--smoke") smoke = true;
    else if (arg === "--out") out = path.resolve(value());
    else if (arg === "--image") image = value();
    else if (arg === "--gateway") gateway = path.resolve(value());
    else if (arg === "--profile") profile = true;
    else if (arg === "--cpu-prof") cpuProfileDir = path.resolve(value());
    else if (arg === "--only") {
      only = true;
      sections = value().split(",") as Section[];
      const unknown = sections.filter((s) => !SECTIONS.includes(s));
      if (unknown.length) throw new UsageError(`unknown section(s) ${unknown.join(", ")}; sections: ${SECTIONS.join(", ")}`);
    } else if (arg === "--help" || arg === "-h") {
      throw new UsageError(`usage: npm run bench -- [--smoke] [--out FILE] [--image TAG] [--gateway FILE] [--only ${SECTIONS.join(",")}] [--profile] [--cpu-prof DIR]`);
    } else throw new UsageError(`unknown argument ${arg} (--help lists them)`);
  }
  if (profile && !sections.includes("profile")) sections = only ? [...sections, "profile"] : ["profile"];
  const profileDir = path.join(path.dirname(out), "profile");
  return { mode: smoke ? "smoke" : "full", plan: smoke ? SMOKE : FULL, out, image, gateway, sections, profileDir, cpuProfileDir };
}
