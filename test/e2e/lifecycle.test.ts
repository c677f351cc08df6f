// Containers over their life on a real Docker engine: keep-alive reaping, death mid-request, orphans
// of an earlier run, clean shutdown, two gateways on one Redis, connections under load.

import { describe, expect, it } from "vitest";
import { ContainerUsers, containerUserName } from "../../gateway/invoker/container-users.js";
import { LABELS } from "../../gateway/invoker/docker-backend.js";
import { formatContainerRecord } from "../../gateway/protocol/container-lifecycle.js";
import { functionKeys } from "../../gateway/protocol/keys.js";
import { startGate } from "../support/barrier.js";
import { probeHandler } from "../support/functions.js";
import { adminHeaders, deploy, docker, eventually, invoke, listContainers, startTestHearth, startTestRedis, useTestHearth } from "../support/hearth.js";

const h = useTestHearth({ containerNetworks: ["host"] });

async function functionStatus(url: string, name: string): Promise<{ queued: number; containers: Record<string, number> }> {
  return (await fetch(`${url}/system/functions/${name}`, { headers: adminHeaders })).json() as Promise<{ queued: number; containers: Record<string, number> }>;
}

describe("container lifecycle", () => {
  it("stops a container that stays idle longer than the function's keep-alive", async () => {
    await deploy(h.url, "brief", { runtime: "node", keepAlive: 1 }, { "index.js": probeHandler() });
    expect((await invoke(h.url, "brief")).status).toBe(200);
    await eventually(async () => ((await listContainers(h.invokerId, "brief")).length === 0 ? true : undefined), 20_000, "the idle container to be reaped");
    expect((await functionStatus(h.url, "brief")).containers).toEqual({ starting: 0, idle: 0, busy: 0 });
    // The next request starts a new container.
    expect((await invoke(h.url, "brief")).status).toBe(200);
  });

  it("answers a request whose container is killed mid-request with 502 at once, then replaces the container", async () => {
    await deploy(h.url, "victim", { runtime: "node", timeout: 60, maxContainers: 1 }, { "index.js": probeHandler() });
    const started = Date.now();
    const pending = invoke(h.url, "victim", { sleepMs: 50_000 });
    await eventually(async () => ((await functionStatus(h.url, "victim")).containers.busy === 1 ? true : undefined), 20_000, "the request to run");
    const [container] = await listContainers(h.invokerId, "victim");
    await docker.getContainer(container!.Id).kill();

    const result = await pending;
    expect(result.status).toBe(502);
    expect(result.body).toMatchObject({ errorType: "Hearth.ContainerExited" });
    // Not the 50 s of the handler nor the 60 s timeout: the caller hears of the death when it happens.
    expect(Date.now() - started).toBeLessThan(30_000);

    const next = await invoke(h.url, "victim");
    expect(next.status).toBe(200);
    expect(next.body.container).not.toContain(container!.Labels[LABELS.container]);
  });

  it("answers 503 at once when no container can be started for the function", async () => {
    // A Redis of its own: the suite's other invoker would start the container fine.
    const ownRedis = await startTestRedis();
    const broken = await startTestHearth(ownRedis, { images: { node: "hearth/no-such-image:latest", python: "hearth/no-such-image:latest", go: "hearth/no-such-image:latest", custom: "hearth/no-such-image:latest" } });
    try {
      await deploy(broken.url, "unstartable", { runtime: "node" }, { "index.js": probeHandler() });
      const result = await invoke(broken.url, "unstartable");
      expect(result.status).toBe(503);
      expect(result.body).toMatchObject({ errorType: "Hearth.ContainerStartFailed", errorMessage: expect.stringContaining("no-such-image") });
      expect((await functionStatus(broken.url, "unstartable")).queued).toBe(0);
    } finally {
      await broken.stop();
      await ownRedis.stop();
    }
  });

  it("answers 503 at once, without starting containers in a loop, when containers die before they are ready", async () => {
    const ownRedis = await startTestRedis();
    // Containers told a Redis address where nothing listens: each adapter exits at start.
    const misconfigured = await startTestHearth(ownRedis, { containerRedisUrl: "redis://127.0.0.1:1" });
    try {
      await deploy(misconfigured.url, "unreachable", { runtime: "node" }, { "index.js": probeHandler() });
      const result = await invoke(misconfigured.url, "unreachable");
      expect(result.status).toBe(503);
      expect(result.body).toMatchObject({ errorType: "Hearth.ContainerStartFailed", errorMessage: expect.stringContaining("before it was ready") });
    } finally {
      await misconfigured.stop();
      await ownRedis.stop();
    }
  });

  it("removes the containers and Redis records an earlier run of the same invoker left behind", async () => {
    const invokerId = `test-orphans-${Date.now()}`;
    const keys = functionKeys("probe-orphan");
    const orphan = await docker.createContainer({
      Image: "hearth/runtime-node:latest",
      Entrypoint: ["sleep", "300"],
      Labels: { [LABELS.invoker]: invokerId, [LABELS.function]: "probe-orphan", [LABELS.container]: "orphan1" },
      HostConfig: { NetworkMode: "none" },
    });
    await orphan.start();
    await h.client.sadd("hearth:functions", "probe-orphan");
    await h.client.hset(keys.containers, "orphan1", formatContainerRecord({ state: "busy", version: 1, invokerId, since: Date.now() }));
    await new ContainerUsers(h.client).create(invokerId, "orphan1", "probe-orphan");

    const restarted = await startTestHearth(h.redis, { invokerId, roles: { api: false, invoker: true } });
    try {
      expect(await listContainers(invokerId)).toHaveLength(0);
      expect(await h.client.hlen(keys.containers)).toBe(0);
      expect(await h.client.acl("USERS")).not.toContain(containerUserName(invokerId, "orphan1"));
    } finally {
      await restarted.stop();
      await h.client.srem("hearth:functions", "probe-orphan");
    }
  });

  it("releases the containers of an invoker that stopped answering, so queued work gets a container", async () => {
    const watchful = await startTestHearth(h.redis, { invokerHeartbeatMs: 200 });
    try {
      await deploy(watchful.url, "ghosted", { runtime: "node", maxContainers: 1 }, { "index.js": probeHandler() });
      // A container record left by an invoker that died with its host: it passes for the one idle container.
      const keys = functionKeys("ghosted");
      await h.client.hset(keys.containers, "ghost1", formatContainerRecord({ state: "idle", version: 1, invokerId: "dead-invoker", since: Date.now() }));
      await new ContainerUsers(h.client).create("dead-invoker", "ghost1", "ghosted");
      const result = await invoke(watchful.url, "ghosted");
      expect(result.status).toBe(200);
      expect(await h.client.hexists(keys.containers, "ghost1")).toBe(0);
      // Its Redis user goes too.
      await eventually(async () => (((await h.client.acl("USERS")) as string[]).includes(containerUserName("dead-invoker", "ghost1")) ? undefined : true), 5_000, "the dead invoker's container user to go");
    } finally {
      await watchful.stop();
    }
  });

  it("on stop, finishes the request in flight, then stops its containers", async () => {
    const own = await startTestHearth(h.redis);
    try {
      await deploy(own.url, "graceful", { runtime: "node" }, { "index.js": probeHandler() });
      expect((await invoke(own.url, "graceful")).status).toBe(200);
      const inFlight = invoke(own.url, "graceful", { sleepMs: 1500 });
      await eventually(async () => ((await functionStatus(own.url, "graceful")).containers.busy === 1 ? true : undefined), 20_000, "the request to run");
      await own.hearth.stop();
      const result = await inFlight;
      expect(result.status).toBe(200);
      // Its containers' Redis users went with them.
      expect(((await h.client.acl("USERS")) as string[]).filter((name) => name.startsWith(containerUserName(own.invokerId, "")))).toEqual([]);
      expect(result.body.count).toBe(2);
      expect(await listContainers(own.invokerId)).toHaveLength(0);
    } finally {
      await own.stop().catch(() => undefined);
    }
  });

  it("serves requests through two gateway processes on one Redis", async () => {
    const second = await startTestHearth(h.redis, { roles: { api: true, invoker: false } });
    try {
      await deploy(h.url, "shared", { runtime: "node", maxContainers: 2 }, { "index.js": probeHandler() });
      const results = await Promise.all([
        invoke(h.url, "shared", { echo: "a" }),
        invoke(second.url, "shared", { echo: "b" }),
        invoke(second.url, "shared", { echo: "c" }),
        invoke(h.url, "shared", { echo: "d" }),
      ]);
      expect(results.map((r) => [r.status, r.body.echo])).toEqual([
        [200, "a"],
        [200, "b"],
        [200, "c"],
        [200, "d"],
      ]);
    } finally {
      await second.stop();
    }
  });

  it("runs function code as an unprivileged user, with no network and the function's memory limit and no swap beyond it", async () => {
    await deploy(h.url, "confined", { runtime: "node", memory: 128 }, { "index.js": "exports.handler = async () => ({ uid: process.getuid() });" });
    const result = await invoke(h.url, "confined");
    expect(result.body).toEqual({ uid: 10001 });
    const [info] = await listContainers(h.invokerId, "confined");
    const inspected = await docker.getContainer(info!.Id).inspect();
    // The adapter is root with only the capabilities to run and signal the runtime under uid 10001.
    expect(inspected.Config.User).toBe("0:0");
    expect(inspected.HostConfig.CapAdd?.sort()).toEqual(["KILL", "SETGID", "SETUID"]);
    expect(inspected.HostConfig.NetworkMode).toBe("none");
    expect(inspected.HostConfig.Memory).toBe(128 * 1024 * 1024);
    expect(inspected.HostConfig.MemorySwap).toBe(128 * 1024 * 1024);
    expect(inspected.HostConfig.SecurityOpt).toContain("no-new-privileges");
    expect(inspected.HostConfig.CapDrop).toContain("ALL");
  });

  it("holds a fixed number of Redis connections however many requests are in flight", async () => {
    await deploy(h.url, "crowd", { runtime: "node", maxContainers: 2, network: "host" }, { "index.js": probeHandler() });
    expect((await invoke(h.url, "crowd")).status).toBe(200);
    const clientsBefore = await countClients();
    // Both containers wait at the gate, so the other 998 requests stay queued while we count.
    const gate = await startGate();
    try {
      const requests = Array.from({ length: 1000 }, (_, i) => invoke(h.url, "crowd", { barrier: gate.url, echo: i }));
      await eventually(async () => ((await functionStatus(h.url, "crowd")).queued === 998 ? true : undefined), 60_000, "998 requests to queue up");
      const clientsDuring = await countClients();
      gate.open();
      const results = await Promise.all(requests);
      expect(results.every((r, i) => r.status === 200 && r.body.echo === i)).toBe(true);
      // Only the second container joined; 1,000 requests in flight opened no connection of their own.
      expect(clientsDuring - clientsBefore).toBeLessThanOrEqual(1);
    } finally {
      gate.open();
      await gate.close();
    }
  });
});

async function countClients(): Promise<number> {
  const list = (await h.client.client("LIST")) as string;
  return list.trim().split("\n").length;
}
