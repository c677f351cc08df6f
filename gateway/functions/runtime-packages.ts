// What each runtime needs in a code package to load its handler, checked at deploy time so that a
// broken deploy is a 400 then, not an init error at the first invoke. Go source (Yandex style) is
// compiled here into the package that is stored: one static binary named as the handler.

import { HearthError } from "../errors.js";
import { CodePackageError } from "./code-package.js";
import type { PackageSummary } from "./package-inspection.js";
import { inspectOffLoop } from "./package-inspector.js";
import type { FunctionConfig, Runtime } from "./definition.js";

/** Compiles a Go source package into a package holding one executable named as the handler (which registers the function's hooks). */
export type GoBuilder = (source: Buffer, entryPoints: Pick<FunctionConfig, "handler" | "initializer" | "preStop">) => Promise<Buffer>;

/** The package to store for `config`: checked, and for Go source compiled. */
export async function preparePackage(config: FunctionConfig, code: Buffer, buildGo?: GoBuilder): Promise<Buffer> {
  const { files, executables } = await inspect(code);
  const { runtime, handler } = config;
  if (runtime === "custom") {
    requireBootstrap(files, executables);
    return code;
  }
  if (runtime === "go" && files.some((file) => file.endsWith(".go"))) {
    // The builder checks the entry point itself, against the source it reads.
    if (!buildGo) throw new HearthError(503, "Go.BuilderUnavailable", "this gateway cannot compile Go source; deploy a prebuilt binary instead");
    return buildGo(code, config);
  }
  requireOneOf(handler, files, candidateFiles(runtime, handler));
  return code;
}

/** Files one of which must be in the package for the handler to load. */
function candidateFiles(runtime: Exclude<Runtime, "custom">, handler: string): string[] {
  const dot = handler.lastIndexOf(".");
  switch (runtime) {
    case "node":
      return [".js", ".mjs", ".cjs"].map((extension) => handler.slice(0, dot) + extension);
    case "python": {
      // Python names modules in sub-packages with dots or slashes: app/main.handler or app.main.handler.
      const module = handler.slice(0, dot).replace(/\./g, "/");
      return [`${module}.py`, `${module}/__init__.py`];
    }
    case "go":
      // A prebuilt binary (Function Compute style) whose file name is the handler.
      return [handler];
  }
}

/** A custom runtime is its package's `bootstrap`, which the container runs: a regular file, executable. */
function requireBootstrap(files: string[], executables: string[]): void {
  if (!files.includes("bootstrap")) {
    throw new HearthError(400, "BootstrapNotFound", `a custom runtime's package holds its runtime as an executable file named bootstrap at its root; the package holds ${files.slice(0, 10).join(", ") || "no files"}`);
  }
  if (!executables.includes("bootstrap")) {
    throw new HearthError(400, "BootstrapNotExecutable", "the package's bootstrap is not executable: package it with mode 0755 (zip: made with Unix file modes)");
  }
}

function requireOneOf(handler: string, files: string[], candidates: string[]): void {
  if (candidates.some((file) => files.includes(file))) return;
  throw new HearthError(
    400,
    "HandlerModuleNotFound",
    `handler ${handler} needs ${candidates.join(" or ")} in the package; the package holds ${files.slice(0, 10).join(", ") || "no files"}`,
  );
}

async function inspect(code: Buffer): Promise<PackageSummary> {
  try {
    return await inspectOffLoop(code);
  } catch (error) {
    if (error instanceof CodePackageError) throw new HearthError(400, "InvalidCodePackage", error.message);
    throw error;
  }
}
