// With no REDIS_URL, Hearth runs its own redis-server as a child process, data in a local directory.

import { spawn } from "node:child_process";
import { mkdir } from "node:fs/promises";
import net from "node:net";
import path from "node:path";
import { Redis } from "ioredis";

export interface EmbeddedRedis {
  url: string;
  stop(): Promise<void>;
}

export async function startEmbeddedRedis(dataDir: string): Promise<EmbeddedRedis> {
  const dir = path.resolve(dataDir);
  await mkdir(dir, { recursive: true });
  const port = await freePort();
  const child = spawn(
    "redis-server",
    ["--bind", "127.0.0.1", "--port", String(port), "--dir", dir, "--appendonly", "yes", "--save", "", "--daemonize", "no"],
    { stdio: ["ignore", "ignore", "inherit"] },
  );
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  // Should Hearth itself die, its redis-server goes with it.
  const killOnExit = (): void => void child.kill("SIGTERM");
  process.once("exit", killOnExit);
  const spawnError = new Promise<never>((_, reject) => child.once("error", reject));
  const url = `redis://127.0.0.1:${port}`;
  try {
    await Promise.race([waitForPing(url), spawnError, exited.then(() => Promise.reject(new Error("redis-server exited at start")))]);
  } catch (error) {
    child.kill("SIGKILL");
    process.off("exit", killOnExit);
    throw error;
  }
  return {
    url,
    stop: async () => {
      process.off("exit", killOnExit);
      if (child.exitCode === null) child.kill("SIGTERM");
      await exited;
    },
  };
}

/** Resolves once a redis-server answers PING at `url` (tried for about 10 s). */
export async function waitForPing(url: string): Promise<void> {
  for (let attempt = 0; ; attempt += 1) {
    const client = new Redis(url, { lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 });
    client.on("error", () => undefined);
    try {
      await client.connect();
      await client.ping();
      return;
    } catch (error) {
      if (attempt >= 200) throw error;
      await new Promise((resolve) => setTimeout(resolve, 50));
    } finally {
      client.disconnect();
    }
  }
}

/** A TCP port free on loopback right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

