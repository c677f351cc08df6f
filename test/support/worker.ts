// A runtime adapter (ContainerWorker) run in the test process outside Docker, on a real redis-server,
// with any runtime bootstrap: the adapter's protocol without the cost of containers.

import { mkdtemp } from "node:fs/promises";
import path from "node:path";
import { Redis } from "ioredis";
import { ContainerWorker } from "../../gateway/adapter/container-worker.js";
import { deployFunction } from "../../gateway/functions/registry.js";
import { createLogger } from "../../gateway/logger.js";
import { formatContainerRecord } from "../../gateway/protocol/container-record.js";
import { encodeMessage, type InvocationMeta } from "../../gateway/protocol/envelope.js";
import { functionKeys } from "../../gateway/protocol/keys.js";
import { tarGz, type Files } from "./packages.js";

export interface WorkerOptions {
  fn: string;
  containerId: string;
  /** Function settings (runtime, handler, keepAlive, ...). */
  config: Record<string, unknown>;
  files: Files;
  /** The runtime program the adapter starts. */
  bootstrap: string;
}

export interface TestWorker {
  running: Promise<void>;
  /** Waits for the worker to retire, then closes its connection. */
  stop(): Promise<void>;
}

/** Deploys `files` and starts a worker for the deployed version, as an invoker would. */
export async function startWorker(redisUrl: string, taskRoot: string, options: WorkerOptions): Promise<TestWorker> {
  const redis = new Redis(redisUrl);
  const { definition } = await deployFunction(redis, options.fn, options.config, await tarGz(options.files));
  await redis.hset(
    functionKeys(options.fn).containers,
    options.containerId,
    formatContainerRecord({ state: "starting", version: definition.version, invokerId: "inv", clientId: 0, since: Date.now() }),
  );
  const root = await mkdtemp(path.join(taskRoot, `${options.fn}-`));
  const worker = new ContainerWorker(
    redis,
    {
      function: options.fn,
      version: definition.version,
      codeSha: definition.codeSha256,
      containerId: options.containerId,
      invokerId: "inv",
      createdAt: Date.now(),
      taskRoot: root,
      bootstrap: options.bootstrap,
      region: "local",
    },
    createLogger("test-adapter"),
  );
  const running = worker.run();
  return {
    running,
    stop: async () => {
      await running;
      redis.disconnect();
    },
  };
}

/** A queued request as a gateway would write it, for `replyTo` to collect. */
export function envelope(fn: string, id: string, version: number, event: unknown, replyTo = "gw-test"): Buffer {
  const meta: InvocationMeta = { id, function: fn, version, replyTo, enqueuedAt: Date.now(), startBy: Date.now() + 20_000 };
  return encodeMessage(meta, JSON.stringify(event));
}
