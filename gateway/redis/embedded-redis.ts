// With no REDIS_URL, Hearth runs its own redis-server as a child process, data in a local directory.
// It requires a password (made once, kept in the directory with mode 0600) and listens on loopback
// TCP for Hearth and on a unix socket, in a directory of its own, that the invoker bind-mounts into
// function containers (which have no network to reach loopback with).

import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmod, mkdir, readFile, writeFile } from "node:fs/promises";
import net from "node:net";
import path from "node:path";
import { Redis } from "ioredis";

export interface EmbeddedRedis {
  /** With the password: redis://:<password>@127.0.0.1:<port>. */
  url: string;
  /** The unix socket (alone in its directory, which containers mount). */
  socketPath: string;
  stop(): Promise<void>;
}

export async function startEmbeddedRedis(dataDir: string): Promise<EmbeddedRedis> {
  const dir = path.resolve(dataDir);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const password = await ownPassword(dir);
  const socketDir = path.join(dir, "socket");
  // Containers connect as uid 0 without CAP_DAC_OVERRIDE, whichever user runs Hearth: the socket is
  // open to local users, and the password (and each container's ACL user) guards it.
  await mkdir(socketDir, { recursive: true });
  await chmod(socketDir, 0o755);
  const socketPath = path.join(socketDir, "redis.sock");
  const port = await freePort();
  // The password goes in a file, not on the command line (which every local user can read).
  const configFile = path.join(dir, "redis.conf");
  const settings = [
    ["bind", "127.0.0.1"],
    ["port", String(port)],
    ["unixsocket", socketPath],
    ["unixsocketperm", "777"],
    ["requirepass", password],
    ["dir", dir],
    ["appendonly", "yes"],
    ["save", '""'],
    ["daemonize", "no"],
  ];
  await writeFile(configFile, settings.map((line) => line.join(" ")).join("\n") + "\n", { mode: 0o600 });
  const child = spawn("redis-server", [configFile], { stdio: ["ignore", "ignore", "inherit"] });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  // Should Hearth itself die, its redis-server goes with it.
  const killOnExit = (): void => void child.kill("SIGTERM");
  process.once("exit", killOnExit);
  const spawnError = new Promise<never>((_, reject) => child.once("error", reject));
  const url = `redis://:${password}@127.0.0.1:${port}`;
  try {
    await Promise.race([waitForPing(url), spawnError, exited.then(() => Promise.reject(new Error("redis-server exited at start")))]);
  } catch (error) {
    child.kill("SIGKILL");
    process.off("exit", killOnExit);
    throw error;
  }
  return {
    url,
    socketPath,
    stop: async () => {
      process.off("exit", killOnExit);
      if (child.exitCode === null) child.kill("SIGTERM");
      await exited;
    },
  };
}

/** The password of the redis-server of this data directory: made at its first start, then kept. */
async function ownPassword(dir: string): Promise<string> {
  const file = path.join(dir, "password");
  try {
    return (await readFile(file, "utf8")).trim();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
  }
  const password = randomBytes(32).toString("hex");
  await writeFile(file, password, { mode: 0o600, flag: "wx" });
  return password;
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

