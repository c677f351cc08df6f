// Where the built pieces are: the bench runs from its bundle, dist/bench/main.cjs (see scripts/build.mjs).

import path from "node:path";

export const ROOT = path.resolve(__dirname, "..", "..");
export const DIST = path.join(ROOT, "dist");
export const HEARTH_ENTRY = path.join(DIST, "hearth.cjs");
export const LOAD_WORKER_ENTRY = path.join(DIST, "bench", "load-worker.cjs");
export const DIRECT_SERVER_ENTRY = path.join(DIST, "bench", "direct-server.cjs");
export const BULLMQ_WORKER_ENTRY = path.join(DIST, "bench", "bullmq-worker.cjs");
export const NOOP_HANDLER = path.join(ROOT, "bench", "functions", "noop.cjs");
