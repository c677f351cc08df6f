// Command line: `npm run bench -- [--smoke] [--out FILE] [--image TAG] [--only a,b] [--profile DIR]`.
// The full plan takes a few minutes; --smoke runs every section with tiny counts (CI keeps the
// harness working with it; its numbers mean nothing).

import path from "node:path";
import { ROOT } from "./paths.js";

export const SECTIONS = ["warm", "throughput", "cold", "async", "footprint"] as const;
export type Section = (typeof SECTIONS)[number];

export interface Plan {
  warm: { concurrency: number[]; rounds: number; countPerRound: number; warmup: number };
  throughput: { containers: number[]; lanesPerContainer: number; count: number; warmup: number; maxDurationMs: number };
  cold: { samples: number };
  async: { count: number; concurrency: number; containers: number };
  footprint: { inFlight: number; idleContainers: number };
}

export interface BenchOptions {
  mode: "full" | "smoke";
  plan: Plan;
  out: string;
  /** The Node runtime image Hearth starts (HEARTH_IMAGE_NODE). */
  image: string;
  sections: Section[];
  /** When set, Hearth's gateway runs with --cpu-prof and writes its profile here. */
  profileDir?: string;
}

const FULL: Plan = {
  warm: { concurrency: [1, 16], rounds: 3, countPerRound: 3000, warmup: 300 },
  throughput: { containers: [1, 2, 4], lanesPerContainer: 4, count: 30_000, warmup: 500, maxDurationMs: 10_000 },
  cold: { samples: 30 },
  async: { count: 5000, concurrency: 16, containers: 4 },
  footprint: { inFlight: 1000, idleContainers: 4 },
};

const SMOKE: Plan = {
  warm: { concurrency: [1, 4], rounds: 1, countPerRound: 30, warmup: 5 },
  throughput: { containers: [1, 2, 4], lanesPerContainer: 2, count: 60, warmup: 5, maxDurationMs: 2_000 },
  cold: { samples: 2 },
  async: { count: 20, concurrency: 4, containers: 1 },
  footprint: { inFlight: 40, idleContainers: 4 },
};

export function parseOptions(argv: string[], env: NodeJS.ProcessEnv): BenchOptions {
  let smoke = env.HEARTH_BENCH_SMOKE === "1";
  let out = path.join(ROOT, "bench", "results", "latest.json");
  let image = env.HEARTH_IMAGE_NODE ?? "hearth/runtime-node:latest";
  let sections: Section[] = [...SECTIONS];
  let profileDir: string | undefined;
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i]!;
    const value = (): string => {
      const next = argv[++i];
      if (next === undefined) throw new Error(`${arg} needs a value`);
      return next;
    };
    if (arg === "--smoke") smoke = true;
    else if (arg === "--out") out = path.resolve(value());
    else if (arg === "--image") image = value();
    else if (arg === "--profile") profileDir = path.resolve(value());
    else if (arg === "--only") {
      sections = value().split(",") as Section[];
      const unknown = sections.filter((s) => !SECTIONS.includes(s));
      if (unknown.length) throw new Error(`unknown section(s) ${unknown.join(", ")}; sections: ${SECTIONS.join(", ")}`);
    } else if (arg === "--help" || arg === "-h") {
      throw new Error(`usage: npm run bench -- [--smoke] [--out FILE] [--image TAG] [--only ${SECTIONS.join(",")}] [--profile DIR]`);
    } else throw new Error(`unknown argument ${arg}`);
  }
  return { mode: smoke ? "smoke" : "full", plan: smoke ? SMOKE : FULL, out, image, sections, profileDir };
}
