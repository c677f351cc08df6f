// Everything a run needs, started in order and stopped in reverse (also after a failure or Ctrl-C):
// a redis-server, Hearth (`node dist/hearth.cjs`), the direct express server, the load worker, the
// gate, and the watchers of Docker and Redis. Everything is the bench's own: its processes by their
// child handles, its containers by the bench's invoker id.

import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import Docker from "dockerode";
import { Redis } from "ioredis";
import { startEmbeddedRedis } from "../../gateway/redis/embedded-redis.js";
import { LoadGenerator } from "../load/generator.js";
import type { BenchOptions } from "../options.js";
import { ContainerMonitor } from "./containers.js";
import { startDirectServer, type DirectServer } from "./direct-process.js";
import { startGate, type Gate } from "./gate.js";
import { HearthApi } from "./hearth-api.js";
import { startHearthProcess, type HearthProcess } from "./hearth-process.js";

export interface Stack {
  invokerId: string;
  redisUrl: string;
  /** The redis-server's unix socket (what containers reach it by), the admin key, a directory of the run's: for more Hearth processes. */
  redisSocket: string;
  adminToken: string;
  workDir: string;
  /** The bench's own connection, for INFO and CLIENT LIST. */
  redis: Redis;
  docker: Docker;
  hearth: HearthProcess;
  api: HearthApi;
  direct: DirectServer;
  load: LoadGenerator;
  containers: ContainerMonitor;
  gate: Gate;
  stop(): Promise<void>;
}

export async function startStack(options: BenchOptions, log: (line: string) => void): Promise<Stack> {
  const teardown: Array<() => Promise<unknown>> = [];
  const stop = async (): Promise<void> => {
    for (const step of teardown.splice(0).reverse()) {
      await step().catch((error: unknown) => log(`cleanup step failed: ${(error as Error).message}`));
    }
  };
  try {
    const workDir = await mkdtemp(path.join(os.tmpdir(), "hearth-bench-"));
    teardown.push(() => rm(workDir, { recursive: true, force: true }));
    // The same redis-server settings Hearth uses when it starts its own (append-only file on).
    const redisServer = await startEmbeddedRedis(path.join(workDir, "redis"));
    teardown.push(() => redisServer.stop());
    const redis = new Redis(redisServer.url, { connectionName: "bench" });
    teardown.push(() => redis.quit());

    const docker = new Docker();
    const invokerId = `bench-${randomBytes(4).toString("hex")}`;
    const containers = new ContainerMonitor(docker, new Redis(redisServer.url, { connectionName: "bench-events" }), invokerId);
    await containers.start();
    teardown.push(async () => containers.stop());
    // Runs after Hearth has stopped (and removed its containers): anything left is removed by id.
    teardown.push(async () => {
      const removed = await containers.removeAll();
      if (removed > 0) log(`removed ${removed} container(s) Hearth left behind`);
    });

    // Every call the bench makes carries this key, the load's too: the key check is part of what is measured.
    const adminToken = randomBytes(32).toString("base64url");
    const hearth = await startHearthProcess({
      redis: { url: redisServer.url, socket: redisServer.socketPath },
      invokerId,
      nodeImage: options.image,
      entry: options.gateway,
      dataDir: path.join(workDir, "hearth"),
      adminToken,
      cpuProfileDir: options.cpuProfileDir,
    });
    teardown.push(() => hearth.stop());

    const direct = await startDirectServer();
    teardown.push(() => direct.stop());
    const load = new LoadGenerator({ authorization: `Bearer ${adminToken}` });
    teardown.push(() => load.stop());
    const gate = await startGate();
    teardown.push(() => gate.close());

    return { invokerId, redisUrl: redisServer.url, redisSocket: redisServer.socketPath, adminToken, workDir, redis, docker, hearth, api: new HearthApi(hearth.url, adminToken), direct, load, containers, gate, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
