// Invoker hosts where Redis does not run (several machines, Kubernetes): function containers have no
// network, so the hearth/redis-socket forwarder makes Redis's socket on the host for them. Here a
// real redis-server is reached over TCP only, and the socket the containers get is the forwarder's.

import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { EmbeddedRedis } from "../../gateway/redis/embedded-redis.js";
import { deploy, docker, eventually, invoke, listContainers, startTestHearth, startTestRedis, type TestHearth } from "../support/hearth.js";

const FORWARDER_LABEL = "hearth.test.redis-socket";

describe("Redis's socket from the forwarder", () => {
  let redis: EmbeddedRedis;
  let socketDir: string;
  let hearth: TestHearth;
  let forwarderId: string;

  beforeAll(async () => {
    redis = await startTestRedis();
    socketDir = await mkdtemp(path.join(os.tmpdir(), "hearth-forwarded-redis-"));
    const forwarder = await docker.createContainer({
      Image: "hearth/redis-socket:latest",
      Env: [`REDIS_ADDRESS=127.0.0.1:${new URL(redis.url).port}`, "REDIS_SOCKET=/run/hearth-redis/redis.sock"],
      Labels: { [FORWARDER_LABEL]: "1" },
      HostConfig: { NetworkMode: "host", Binds: [`${socketDir}:/run/hearth-redis`] },
    });
    forwarderId = forwarder.id;
    await forwarder.start();
    const socketPath = path.join(socketDir, "redis.sock");
    await eventually(async () => (existsSync(socketPath) ? true : undefined), 10_000, "the forwarder's socket");
    // Hearth itself logs in over TCP; only the containers use the forwarded socket.
    hearth = await startTestHearth({ url: redis.url, socketPath });
  });

  afterAll(async () => {
    await hearth?.stop();
    await docker.getContainer(forwarderId).remove({ force: true }).catch(() => undefined);
    await redis?.stop();
    await rm(socketDir, { recursive: true, force: true });
  });

  it("serves a function whose container has no network, through Redis reached by TCP", async () => {
    const handler = "exports.handler = async (event) => ({ greeting: `hello, ${event.name}` });";
    expect((await deploy(hearth.url, "forwarded", { runtime: "node" }, { "index.js": handler })).status).toBe(201);
    const cold = await invoke(hearth.url, "forwarded", { name: "cold" });
    expect(cold).toMatchObject({ status: 200, body: { greeting: "hello, cold" } });
    expect(await invoke(hearth.url, "forwarded", { name: "warm" })).toMatchObject({ status: 200, body: { greeting: "hello, warm" } });

    const [container] = await listContainers(hearth.invokerId, "forwarded");
    const inspected = await docker.getContainer(container!.Id).inspect();
    expect(inspected.HostConfig.NetworkMode).toBe("none");
    // The forwarder's socket folder, and the function's code from the code cache: nothing else of the host.
    expect(inspected.HostConfig.Binds).toEqual([expect.stringMatching(new RegExp(`^${socketDir}:`)), expect.stringMatching(/\/task:\/var\/task:ro$/)]);
  });
});
