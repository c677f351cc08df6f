// Runs the package inspection (package-inspection.ts) in a worker thread of its own, so that a hostile
// package costs that thread, never the event loop that serves requests: the thread has a heap limit,
// and is terminated past a time limit.

import path from "node:path";
import { Worker } from "node:worker_threads";
import { CodePackageError } from "./code-package.js";
import type { InspectorAnswer, InspectorRequest } from "./package-inspector-worker.js";
import { PACKAGE_LIMITS, type PackageLimits, type PackageSummary } from "./package-inspection.js";

/** How long one inspection may take: reading 250 MiB takes about a second. */
export const INSPECTION_TIMEOUT_MS = 15_000;

/** Inspections at once; more wait their turn (each may take a core for the time limit). */
const CONCURRENT_INSPECTIONS = 2;

/** The worker's bundle (scripts/build.mjs): next to dist/hearth.cjs, or in dist/ when run from the TypeScript source (tests build first). */
const WORKER_FILE = __filename.endsWith(".ts")
  ? path.resolve(__dirname, "../../dist/package-inspector.cjs")
  : path.join(__dirname, "package-inspector.cjs");

let running = 0;
const waiting: Array<() => void> = [];

/** Inspects a package off the event loop; throws CodePackageError for what the gateway should not store. */
export async function inspectOffLoop(data: Buffer, limits: PackageLimits = PACKAGE_LIMITS, timeoutMs = INSPECTION_TIMEOUT_MS): Promise<PackageSummary> {
  if (running < CONCURRENT_INSPECTIONS) running += 1;
  else await new Promise<void>((resolve) => waiting.push(resolve));
  try {
    return await runWorker(data, limits, timeoutMs);
  } finally {
    // The slot passes to the next waiting inspection, if any.
    const next = waiting.shift();
    if (next) next();
    else running -= 1;
  }
}

function runWorker(data: Buffer, limits: PackageLimits, timeoutMs: number): Promise<PackageSummary> {
  // A copy of exactly these bytes, moved to the worker rather than cloned again.
  const copy = new Uint8Array(data);
  const worker = new Worker(WORKER_FILE, {
    workerData: { data: copy, limits } satisfies InspectorRequest,
    transferList: [copy.buffer],
    resourceLimits: { maxOldGenerationSizeMb: 128, maxYoungGenerationSizeMb: 16 },
    stdout: false,
    stderr: false,
  });
  return new Promise<PackageSummary>((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(new CodePackageError(`inspecting the code package took longer than ${timeoutMs / 1000} s (the limit)`));
      void worker.terminate();
    }, timeoutMs);
    const settle = (): void => clearTimeout(timer);
    worker.once("message", (answer: InspectorAnswer) => {
      settle();
      if ("summary" in answer) resolve(answer.summary);
      else if ("problem" in answer) reject(new CodePackageError(answer.problem));
      else reject(new Error(`package inspection failed: ${answer.failure}`));
    });
    worker.once("error", (error: Error & { code?: string }) => {
      settle();
      if (error.code === "ERR_WORKER_OUT_OF_MEMORY") reject(new CodePackageError("inspecting the code package ran out of memory"));
      else reject(new Error(`package inspection failed: ${error.message}`));
    });
    worker.once("exit", (code) => {
      settle();
      reject(new Error(`package inspection ended (exit code ${code}) without an answer`));
    });
  });
}
