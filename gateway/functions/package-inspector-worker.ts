// The entry of dist/package-inspector.cjs: a worker thread that inspects the one package it is given
// (see package-inspector.ts) and posts back what it found.

import { parentPort, workerData } from "node:worker_threads";
import { CodePackageError } from "./code-package.js";
import { inspectPackage, type PackageLimits } from "./package-inspection.js";

export interface InspectorRequest {
  data: Uint8Array;
  limits: PackageLimits;
}

export type InspectorAnswer = { summary: Awaited<ReturnType<typeof inspectPackage>> } | { problem: string } | { failure: string };

const { data, limits } = workerData as InspectorRequest;
inspectPackage(Buffer.from(data.buffer, data.byteOffset, data.byteLength), limits).then(
  (summary) => answer({ summary }),
  (error: unknown) => answer(error instanceof CodePackageError ? { problem: error.message } : { failure: String(error) }),
);

function answer(message: InspectorAnswer): void {
  parentPort!.postMessage(message);
}
