// redis-server processes a test starts for a Redis setup of several nodes (Sentinel, Cluster): each
// from a configuration file in a folder of the setup's own; stop() SIGKILLs every one still running
// and removes the folder, and so does the test process's exit, should it come first.

import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import { Redis } from "ioredis";

export interface RedisProcesses {
  dir: string;
  /** Writes `settings` to `configFile` (once) and starts redis-server on it with `args`. */
  start(configFile: string, settings: string[] | undefined, args?: string[]): Promise<ChildProcess>;
  stop(): Promise<void>;
}

export async function startRedisProcesses(prefix: string): Promise<RedisProcesses> {
  const dir = await mkdtemp(`${os.tmpdir()}/${prefix}`);
  const processes = new Set<ChildProcess>();
  const killAll = (): void => processes.forEach((child) => child.kill("SIGKILL"));
  process.once("exit", killAll);
  return {
    dir,
    start: async (configFile, settings, args = []) => {
      if (settings) await writeFile(configFile, settings.join("\n") + "\n");
      const child = spawn("redis-server", [configFile, ...args], { stdio: ["ignore", "ignore", "inherit"] });
      processes.add(child);
      child.once("exit", () => processes.delete(child));
      return child;
    },
    stop: async () => {
      process.off("exit", killAll);
      const exited = [...processes].map((child) => new Promise((resolve) => child.once("exit", resolve)));
      killAll();
      await Promise.all(exited);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Connection errors show in the commands that fail; the client need not print each one. */
export function quiet(client: Redis): Redis {
  client.on("error", () => undefined);
  return client;
}
