// Hearth as a process of its own (`node dist/hearth.cjs`), for tests that kill or restart one part:
// an API or an invoker, each with the environment the test gives it.

import { spawn, type ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";
import type { RedisAddress } from "./hearth.js";
import { TEST_ADMIN_TOKEN } from "./hearth.js";

export interface HearthProcess {
  child: ChildProcess;
  /** The API's base URL (API processes). */
  url?: string;
}

export interface HearthProcessOptions {
  roles: "api" | "invoker" | "api,invoker";
  redis: RedisAddress;
  invokerId: string;
  /** More settings (or other values for these). */
  env?: NodeJS.ProcessEnv;
  /** Gets every line the process writes, prefixed with `name`, for the report of a failing test. */
  output: string[];
  name?: string;
}

/** Starts the process on the test's Redis; resolves once it is running ("Hearth is running"). */
export async function startHearthProcess(options: HearthProcessOptions): Promise<HearthProcess> {
  const name = options.name ?? options.roles;
  const child = spawn(process.execPath, ["dist/hearth.cjs"], {
    env: {
      ...process.env,
      HEARTH_ROLES: options.roles,
      REDIS_URL: options.redis.url,
      HEARTH_ADMIN_TOKEN: TEST_ADMIN_TOKEN,
      HEARTH_CONTAINER_REDIS_SOCKET: options.redis.socketPath,
      HEARTH_INVOKER_ID: options.invokerId,
      PORT: "0",
      LOG_LEVEL: "info",
      // No stem cells unless asked for: the rows and tests time cold starts that create their container.
      HEARTH_STEM_CELLS: "",
      ...options.env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  createInterface({ input: child.stderr! }).on("line", (line) => options.output.push(`${name}: ${line}`));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`the ${name} process did not start within 30 s`));
    }, 30_000);
    createInterface({ input: child.stdout! }).on("line", (line) => {
      options.output.push(`${name}: ${line}`);
      if (!line.includes('"msg":"Hearth is running"')) return;
      clearTimeout(timer);
      resolve({ child, url: (JSON.parse(line) as { url?: string }).url });
    });
    child.once("exit", (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`the ${name} process exited (${code ?? signal}) before it was running`));
    });
  });
}

export async function sigkill(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once("exit", resolve));
  child.kill("SIGKILL");
  await exited;
}

/** The warnings and errors among the processes' output lines (pino levels 40 and up). */
export function warningsAndErrors(output: string[]): string {
  return output.filter((line) => /"level":(40|50|60)/.test(line)).join("\n");
}
