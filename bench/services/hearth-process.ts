// Hearth as users run it: `node dist/hearth.cjs`, a process of its own (so its memory and CPU are its
// own), on the bench's redis-server (or a Redis Cluster), with an invoker id of the bench's (so it only
// ever touches containers this run started). Stopped with SIGTERM, which stops its containers too.

import { spawn, type ChildProcess } from "node:child_process";

/**
 * One redis-server by URL, with its unix socket (which Hearth's containers reach it by); or a Cluster,
 * whose masters the containers reach through the invoker's own sockets (in the data directory).
 */
export type HearthRedis = { url: string; socket: string } | { clusterNodes: string; password: string };

export interface HearthProcessOptions {
  redis: HearthRedis;
  invokerId: string;
  nodeImage: string;
  /** The program: dist/hearth.cjs, or another build of it. */
  entry: string;
  dataDir: string;
  /** HEARTH_ADMIN_TOKEN: required with REDIS_URL. */
  adminToken: string;
  /** Write a V8 CPU profile of the gateway into this directory when it exits. */
  cpuProfileDir?: string;
  /** More settings: HEARTH_ROLES=invoker and DOCKER_HOST for an invoker on another Docker engine. */
  env?: NodeJS.ProcessEnv;
}

export interface HearthProcess {
  /** Its API's base URL; empty for an invoker-only process. */
  url: string;
  pid: number;
  stop(): Promise<void>;
}

export async function startHearthProcess(options: HearthProcessOptions): Promise<HearthProcess> {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    PORT: "0",
    HEARTH_HOST: "127.0.0.1",
    ...("url" in options.redis
      ? { REDIS_URL: options.redis.url, HEARTH_CONTAINER_REDIS_SOCKET: options.redis.socket }
      : { REDIS_CLUSTER_NODES: options.redis.clusterNodes, REDIS_PASSWORD: options.redis.password }),
    // For the scenarios whose handlers call the bench's gate on loopback; the others keep no network.
    HEARTH_CONTAINER_NETWORKS: "host",
    HEARTH_DATA_DIR: options.dataDir,
    HEARTH_ADMIN_TOKEN: options.adminToken,
    HEARTH_INVOKER_ID: options.invokerId,
    HEARTH_IMAGE_NODE: options.nodeImage,
    LOG_LEVEL: "info",
    // No stem cells unless asked for: the rows and tests time cold starts that create their container.
    HEARTH_STEM_CELLS: "",
    ...options.env,
  };
  const nodeArgs = options.cpuProfileDir ? ["--cpu-prof", `--cpu-prof-dir=${options.cpuProfileDir}`] : [];
  const child = spawn(process.execPath, [...nodeArgs, options.entry], { env, stdio: ["ignore", "pipe", "pipe"] });
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  // Should the bench exit first (Ctrl-C in a section that started this one), Hearth still stops its containers.
  const stopOnExit = (): void => void child.kill("SIGTERM");
  process.once("exit", stopOnExit);
  void exited.then(() => process.off("exit", stopOnExit));
  // Its log is kept (the last lines) for an error message, and otherwise read and dropped.
  const tail: string[] = [];
  const keep = (chunk: Buffer): void => {
    tail.push(...chunk.toString("utf8").split("\n").filter(Boolean));
    tail.splice(0, Math.max(0, tail.length - 40));
  };
  child.stderr!.on("data", keep);
  const url = await new Promise<string>((resolve, reject) => {
    let buffered = "";
    const onData = (chunk: Buffer): void => {
      keep(chunk);
      buffered += chunk.toString("utf8");
      const line = buffered.split("\n").find((l) => l.includes("Hearth is running"));
      if (!line) return;
      child.stdout!.off("data", onData);
      child.stdout!.on("data", keep);
      resolve((JSON.parse(line) as { url?: string }).url ?? "");
    };
    child.stdout!.on("data", onData);
    void exited.then((code) => reject(new Error(`hearth exited with code ${code} at start:\n${tail.join("\n")}`)));
  });
  return {
    url,
    pid: child.pid!,
    stop: () => stopChild(child, exited, 90_000),
  };
}

/** SIGTERM, then SIGKILL if it has not exited after `graceMs`. */
export async function stopChild(child: ChildProcess, exited: Promise<unknown>, graceMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
  await exited;
  clearTimeout(timer);
}
