// The runtime adapter on a real redis-server with the real Node bootstrap, outside Docker: the order
// of its Redis writes, and its retirement at the end of the keep-alive.

import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ContainerWorker } from "../../gateway/adapter/container-worker.js";
import { deployFunction } from "../../gateway/functions/registry.js";
import { createLogger } from "../../gateway/logger.js";
import { formatContainerRecord } from "../../gateway/protocol/container-record.js";
import { decodeMessage, encodeMessage, type InvocationMeta, type ResultMeta } from "../../gateway/protocol/envelope.js";
import { functionKeys, repliesKey } from "../../gateway/protocol/keys.js";
import { scripts } from "../../gateway/protocol/scripts.js";
import type { EmbeddedRedis } from "../../gateway/redis/embedded-redis.js";
import { probeHandler } from "../support/functions.js";
import { eventually, startTestRedis } from "../support/hearth.js";
import { tarGz } from "../support/packages.js";

let server: EmbeddedRedis;
let redis: Redis;
let taskRoot: string;

beforeAll(async () => {
  server = await startTestRedis();
  redis = new Redis(server.url);
  taskRoot = await mkdtemp(path.join(os.tmpdir(), "hearth-task-"));
});

afterAll(async () => {
  redis?.disconnect();
  await server?.stop();
  if (taskRoot) await rm(taskRoot, { recursive: true, force: true });
});

describe("ContainerWorker", () => {
  it("records itself idle before the caller hears back, and retires when its keep-alive runs out", async () => {
    const fn = "adapted";
    const keys = functionKeys(fn);
    const { definition } = await deployFunction(redis, fn, { runtime: "node", keepAlive: 2 }, await tarGz({ "index.js": probeHandler() }));
    const containerId = "local1";
    await redis.hset(keys.containers, containerId, formatContainerRecord({ state: "starting", version: 1, invokerId: "inv", clientId: 0, since: Date.now() }));

    const workerRedis = new Redis(server.url);
    const worker = new ContainerWorker(
      workerRedis,
      { function: fn, version: 1, codeSha: definition.codeSha256, containerId, invokerId: "inv", createdAt: Date.now(), taskRoot, bootstrap: path.resolve("images/node/bootstrap.cjs"), region: "local" },
      createLogger("test-adapter"),
    );
    const running = worker.run();
    const monitor = await redis.monitor();
    try {
      const commands: string[][] = [];
      monitor.on("monitor", (_time: string, args: string[]) => commands.push(args));

      const meta: InvocationMeta = { id: "call-1", function: fn, version: 1, replyTo: "gw-test", enqueuedAt: Date.now(), startBy: Date.now() + 20_000 };
      await scripts.enqueueInvocation.run(redis, [keys.def, keys.queue, keys.containers], [encodeMessage(meta, JSON.stringify({ echo: "hi" })), 1, fn]);
      const popped = (await redis.blpopBuffer(repliesKey("gw-test"), 20))!;
      const result = decodeMessage<ResultMeta>(popped[1]);
      expect(result.meta).toMatchObject({ id: "call-1", status: 200, containerId });
      expect(JSON.parse(result.payload.toString())).toMatchObject({ echo: "hi" });

      // The monitor's feed comes on its own connection, maybe after the reply: wait until it shows the push.
      const replyAt = await eventually(async () => {
        const at = commands.findIndex((args) => args[0]?.toLowerCase() === "rpush" && args[1] === repliesKey("gw-test"));
        return at >= 0 ? at : undefined;
      }, 10_000, "the reply push in the monitor feed");
      const finishAt = commands.findIndex((args) => args[0]?.toLowerCase() === "evalsha" && args[1] === scripts.finishInvocation.sha);
      expect(finishAt).toBeGreaterThanOrEqual(0);
      expect(replyAt).toBeGreaterThan(finishAt);
    } finally {
      monitor.disconnect();
      await running;
      workerRedis.disconnect();
    }
    expect(await redis.hexists(keys.containers, containerId)).toBe(0);
  });
});
