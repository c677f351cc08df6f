// A runtime adapter (ContainerWorker) run in the test process outside Docker, on a real redis-server,
// with any runtime bootstrap: the adapter's protocol without the cost of containers.

import { randomInt } from "node:crypto";
import { chmod, mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { Redis } from "ioredis";
import { afterAll, beforeAll } from "vitest";
import { ContainerWorker } from "../../gateway/adapter/container-worker.js";
import { RedisNodes } from "../../gateway/adapter/redis-nodes.js";
import { extractPackage } from "../../gateway/functions/code-package.js";
import { deployFunction, getFunction } from "../../gateway/functions/registry.js";
import { createLogger } from "../../gateway/logger.js";
import { enqueueInvocation, formatContainerRecord } from "../../gateway/protocol/container-lifecycle.js";
import { encodeMessage, type InvocationMeta } from "../../gateway/protocol/envelope.js";
import { functionKeys } from "../../gateway/protocol/keys.js";
import { loadScripts } from "../../gateway/protocol/all-scripts.js";
import type { ContainerCredentials } from "../../gateway/invoker/container-users.js";
import type { RedisClient } from "../../gateway/redis/connections.js";
import type { EmbeddedRedis } from "../../gateway/redis/embedded-redis.js";
import { defaultQuotas, startTestRedis } from "./hearth.js";
import { tarGz, type Files } from "./packages.js";

export interface WorkerOptions {
  fn: string;
  containerId: string;
  /** Function settings (runtime, handler, keepAlive, ...). */
  config: Record<string, unknown>;
  /** The function's code, deployed with `config`; none: another worker of the function as deployed now. */
  files?: Files;
  /** The runtime program the adapter starts. */
  bootstrap: string;
  /** Connect as this Redis user (a container's, made by ContainerUsers) instead of the test's admin. */
  credentials?: ContainerCredentials;
}

export interface TestWorker {
  running: Promise<void>;
  /** Waits for the worker to retire, then closes its connection. */
  stop(): Promise<void>;
}

export interface WorkerSetting {
  redisUrl: string;
  /** The same redis-server's unix socket, as containers reach it. */
  socketPath: string;
  /** A client for the test's own commands. */
  redis: Redis;
  /** Each worker's function's code is unpacked in a folder of its own under this one. */
  taskRoot: string;
}

/** A redis-server and a task folder for the workers of one test file, made before its tests and removed after. */
export function useWorkerSetting(): WorkerSetting {
  const setting = {} as WorkerSetting;
  let server: EmbeddedRedis | undefined;
  beforeAll(async () => {
    server = await startTestRedis();
    setting.redisUrl = server.url;
    setting.socketPath = server.socketPath;
    setting.redis = new Redis(server.url);
    setting.taskRoot = await mkdtemp(path.join(os.tmpdir(), "hearth-task-"));
    // The runtimes run under uids of their own, as in a container; they read their code from here.
    await chmod(setting.taskRoot, 0o755);
  });
  afterAll(async () => {
    setting.redis?.disconnect();
    await server?.stop();
    if (setting.taskRoot) await rm(setting.taskRoot, { recursive: true, force: true });
  });
  return setting;
}

/** Deploys `files` and starts a worker for the deployed version, as an invoker would. */
export async function startWorker({ redisUrl, taskRoot }: WorkerSetting, options: WorkerOptions): Promise<TestWorker> {
  const admin = new Redis(redisUrl);
  // As the adapter connects (no ready check: INFO is not a container's to run).
  const { credentials } = options;
  const nodes = RedisNodes.single(redisUrl, (url, user) => new Redis(url, credentials ? { ...user, enableReadyCheck: false } : {}), credentials ?? { username: "default", password: "" });
  const worker = await runWorker(admin, nodes, taskRoot, options);
  return {
    running: worker.running,
    stop: async () => {
      await worker.stop();
      admin.disconnect();
    },
  };
}

/**
 * Deploys `files` (through `admin`) and runs a worker for the deployed version on `nodes` (the
 * adapter's connections), as an invoker would; stop() closes `nodes`.
 */
export async function runWorker(admin: RedisClient, nodes: RedisNodes, taskRoot: string, options: WorkerOptions): Promise<TestWorker> {
  // As an invoker does before it starts a container: containers run the scripts, they do not load them.
  await loadScripts(admin);
  const definition = options.files ? (await deployFunction(admin, defaultQuotas, options.fn, options.config, await tarGz(options.files))).definition : await getFunction(admin, options.fn);
  if (!definition) throw new Error(`function ${options.fn} is not deployed`);
  const code = (await admin.getBuffer(functionKeys(options.fn).code(definition.codeSha256)))!;
  await admin.hset(
    functionKeys(options.fn).containers,
    options.containerId,
    formatContainerRecord({ state: "starting", version: definition.version, invokerId: "inv", since: Date.now() }),
  );
  const root = await mkdtemp(path.join(taskRoot, `${options.fn}-`));
  await chmod(root, 0o755);
  // As the invoker's code cache does before it mounts the tree at /var/task.
  await extractPackage(code, root);
  const worker = new ContainerWorker(
    nodes,
    {
      function: options.fn,
      version: definition.version,
      containerId: options.containerId,
      invokerId: "inv",
      createdAt: Date.now(),
      startedAt: Date.now(),
      taskRoot: root,
      bootstrap: options.bootstrap,
      region: "local",
      retentionMs: 60_000,
      // A uid no other process on this machine has: the adapter freezes and kills every process of it.
      runtimeUid: randomInt(1_000_000, 2_000_000_000),
      logs: { maxLines: 1_000, retentionMs: 60_000, maxLinesPerInvocation: 100, maxLineLength: 1_024, historySize: 100 },
    },
    createLogger("test-adapter"),
  );
  const running = worker.run();
  return {
    running,
    stop: async () => {
      await running;
      nodes.disconnect();
    },
  };
}

/** Queues a sync request as a gateway does (to the most recently idle container, or the queue). */
export async function enqueue(redis: RedisClient, fn: string, raw: Buffer, version = 1): Promise<void> {
  const outcome = await enqueueInvocation.run(redis, { keys: functionKeys(fn), fn, envelope: raw, expectedVersion: version, now: Date.now() });
  if (outcome[0] !== "queued") throw new Error(`not queued: ${outcome.join(" ")}`);
}

/** A queued request as a gateway would write it, for `replyTo` to collect. */
export function envelope(fn: string, id: string, version: number, event: unknown, replyTo = "gw-test"): Buffer {
  const meta: InvocationMeta = { id, function: fn, version, replyTo, enqueuedAt: Date.now(), startBy: Date.now() + 20_000 };
  return encodeMessage(meta, JSON.stringify(event));
}
