// The invoker's pool decisions on a real redis-server without Docker: a fake container backend records
// what the invoker asks of it and lets the test say when a container exits (as OpenWhisk's
// ContainerPoolTests do). Where a path needs a container's side, the test writes the container's
// records the way the adapter's scripts do.

import { randomBytes } from "node:crypto";
import { Redis } from "ioredis";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { Runtime } from "../../gateway/functions/definition.js";
import { deployFunction } from "../../gateway/functions/registry.js";
import { ContainerUsers, containerUserName } from "../../gateway/invoker/container-users.js";
import type { ContainerBackend, ContainerExit, ContainerSpec, StemCellSpec } from "../../gateway/invoker/docker-backend.js";
import { HostCapacity } from "../../gateway/invoker/host-capacity.js";
import { Invoker } from "../../gateway/invoker/invoker.js";
import { createLogger } from "../../gateway/logger.js";
import { Metrics } from "../../gateway/metrics/metrics.js";
import { enqueueAsyncInvocation } from "../../gateway/protocol/async-lifecycle.js";
import { enqueueInvocation, formatContainerRecord, registerContainer, WAKE } from "../../gateway/protocol/container-lifecycle.js";
import { decodeMessage, type ResultMeta } from "../../gateway/protocol/envelope.js";
import { EventBus } from "../../gateway/protocol/event-bus.js";
import { EVENTS_CHANNEL, functionKeys, INVOKER_BEATS, invokerAliveKey, newInvocationId, repliesKey } from "../../gateway/protocol/keys.js";
import { loadScripts } from "../../gateway/protocol/all-scripts.js";
import { decodeSpecialization, stemKey, type Specialization } from "../../gateway/protocol/stem-cells.js";
import type { EmbeddedRedis } from "../../gateway/redis/embedded-redis.js";
import { defaultQuotas, eventually, startTestRedis } from "../support/hearth.js";
import { tarGz } from "../support/packages.js";
import { envelope } from "../support/worker.js";

/** Stands in for DockerBackend: containers "run" from start() until the test fires their exit. */
class FakeBackend implements ContainerBackend {
  readonly started: ContainerSpec[] = [];
  readonly removed: string[] = [];
  /** Set: every start fails as with an engine that is down; each try is counted. */
  failing = false;
  failedStarts = 0;
  private onExit?: (exit: ContainerExit) => void;

  async start(spec: ContainerSpec): Promise<string> {
    if (this.failing) {
      this.failedStarts += 1;
      throw new Error("connect ENOENT /run/fake/docker.sock");
    }
    this.started.push(spec);
    return `docker-${spec.containerId}`;
  }

  readonly stemCells: StemCellSpec[] = [];
  readonly resized: Array<{ dockerId: string; memoryMb: number }> = [];

  async startStemCell(spec: StemCellSpec): Promise<string> {
    this.stemCells.push(spec);
    return `docker-${spec.stemId}`;
  }

  async resize(dockerId: string, memoryMb: number): Promise<void> {
    this.resized.push({ dockerId, memoryMb });
  }

  async placeCode(): Promise<void> {}

  /** Whether the engine answers: a test may say it no longer does. */
  answering = true;

  async ping(): Promise<boolean> {
    return this.answering;
  }

  async watchExits(onExit: (exit: ContainerExit) => void): Promise<() => void> {
    this.onExit = onExit;
    return () => (this.onExit = undefined);
  }

  async removeLeftovers(): Promise<void> {}

  async waitRemoved(): Promise<boolean> {
    return true;
  }

  async remove(dockerId: string): Promise<void> {
    this.removed.push(dockerId);
  }

  /** Docker's exit of a container: by its label's id (a stem cell's own, also once specialized). */
  exitById(containerId: string, exitCode: number): void {
    this.onExit?.({ containerId, exitCode, outOfMemory: false });
  }

  exit(spec: ContainerSpec, exitCode: number): void {
    this.onExit?.({ containerId: spec.containerId, exitCode, outOfMemory: false });
  }
}

const HEARTBEAT_MS = 200;
const NO_STEM_CELLS = { node: 0, python: 0, go: 0, custom: 0 };
const REPLY_TO = "gw-pool-test";
let server: EmbeddedRedis;
let redis: Redis;
const stops: Array<() => Promise<void>> = [];

beforeAll(async () => {
  server = await startTestRedis();
  redis = new Redis(server.url);
  await loadScripts(redis);
});

afterEach(async () => {
  for (const stop of stops.splice(0).reverse()) await stop();
  // The next test's invoker must not find this test's queued work.
  await redis.flushall();
  await loadScripts(redis);
});

afterAll(async () => {
  redis?.disconnect();
  await server?.stop();
});

async function startInvoker(maxContainers = 16, stemCells: Record<Runtime, number> = NO_STEM_CELLS): Promise<{ invoker: Invoker; backend: FakeBackend; invokerId: string }> {
  const backend = new FakeBackend();
  const invokerId = `pool-${randomBytes(4).toString("hex")}`;
  const commands = new Redis(server.url);
  const events = new EventBus(new Redis(server.url), createLogger("test-events"));
  await events.start();
  const capacity = new HostCapacity({ maxContainers, maxMemoryMb: 64 * 1024 });
  const invoker = new Invoker(commands, backend, new Metrics(), createLogger("test-invoker"), invokerId, HEARTBEAT_MS, 60_000, capacity, stemCells);
  await invoker.start(events);
  stops.push(async () => {
    // A second stop (after a test's own) finds nothing left to do.
    await invoker.stop(1_000);
    await events.stop();
    commands.disconnect();
  });
  return { invoker, backend, invokerId };
}

/** A fresh function (so that tests share no keys), deployed with these settings. */
async function deployNoop(settings: Record<string, unknown> = {}, fn = `pool-${randomBytes(4).toString("hex")}`): Promise<{ fn: string; version: number }> {
  const code = await tarGz({ "index.js": "exports.handler = async (event) => event;" });
  const { definition } = await deployFunction(redis, defaultQuotas, fn, { runtime: "node", handler: "index.handler", ...settings }, code);
  return { fn, version: definition.version };
}

/** Queues sync requests as a gateway does and says so on the event channel. */
async function enqueue(fn: string, version: number, count: number): Promise<string[]> {
  const ids = Array.from({ length: count }, (_, i) => `${fn}-req-${i}`);
  await redis.lpush(functionKeys(fn).queue, ...ids.map((id) => envelope(fn, id, version, {}, REPLY_TO)));
  await redis.publish(EVENTS_CHANNEL, `work ${fn}`);
  return ids;
}

/** The next `count` results pushed to the test's reply list. */
async function replies(count: number): Promise<ResultMeta[]> {
  const results: ResultMeta[] = [];
  while (results.length < count) {
    const popped = await redis.blpopBuffer(repliesKey(REPLY_TO), 10);
    if (!popped) throw new Error(`only ${results.length} of ${count} replies came`);
    results.push(decodeMessage<ResultMeta>(popped[1]).meta);
  }
  return results;
}

/**
 * Makes the container `spec` idle as its adapter does: registered (nothing queued), then a connection of
 * its own blocked on its inbox. Resolves `woken` true when a wake-up comes there.
 */
async function idleContainer(spec: ContainerSpec): Promise<{ woken: Promise<boolean> }> {
  const keys = functionKeys(spec.function);
  const registered = await registerContainer.run(redis, { keys, fn: spec.function, containerId: spec.containerId, version: spec.version, now: Date.now(), timingsJson: JSON.stringify({ createdAt: 0, processStartedAt: 0, codeLoadedAt: 0, runtimeReadyAt: 0 }) });
  expect(registered).toEqual({ kind: "wait" });
  const connection = new Redis(server.url);
  const woken = connection.blmoveBuffer(keys.inbox(spec.containerId), keys.running(spec.containerId), "RIGHT", "LEFT", 30).then(
    (raw) => raw !== null && raw.equals(WAKE),
    () => false, // closed at the test's end
  );
  stops.push(async () => connection.disconnect());
  return { woken };
}

describe("the invoker's pool, on a fake container backend", () => {
  it("answers the queued callers with 503 when the only container exits before it is ready, and retries the queued async invocation", async () => {
    const { backend } = await startInvoker();
    const { fn, version } = await deployNoop({ maxContainers: 1, maxRetries: 2, retryDelay: 60 });
    const keys = functionKeys(fn);
    // An async invocation queued as the gateway accepts one.
    const asyncId = newInvocationId(fn);
    await enqueueAsyncInvocation.run(redis, { keys, fn, id: asyncId, payload: Buffer.from("{}"), expectedVersion: version, now: Date.now(), retentionMs: 60_000 });
    const ids = await enqueue(fn, version, 3);
    const [spec] = await eventually(async () => (backend.started.length === 1 ? backend.started : undefined), 5_000, "a container start");
    backend.exit(spec!, 1);

    const results = await replies(3);
    expect(results.map((result) => result.id).sort()).toEqual([...ids].sort());
    for (const result of results) expect(result).toMatchObject({ function: fn, status: 503 });
    expect(await redis.llen(functionKeys(fn).queue)).toBe(0);
    expect(await redis.hlen(functionKeys(fn).containers)).toBe(0);
    // Starting another would fail the same way: nothing more was started.
    expect(backend.started).toHaveLength(1);
    // The async attempt failed and waits for its retry (a minute away).
    expect(await redis.hmget(keys.invocation(asyncId), "status", "attempts", "statusCode")).toEqual(["queued", "1", "503"]);
    expect(await redis.zscore(keys.retries, asyncId)).not.toBeNull();
  });

  it("leaves work to the other invokers when its engine cannot start containers, and answers 503 once it is the only one", async () => {
    const { backend } = await startInvoker();
    backend.failing = true;
    // Another invoker, alive for the next minute.
    await redis.zadd(INVOKER_BEATS, Date.now() + 60_000, "other-invoker");
    const { fn, version } = await deployNoop({ maxContainers: 2 });
    const [id] = await enqueue(fn, version, 1);
    await eventually(async () => (backend.failedStarts === 1 ? true : undefined), 5_000, "a failed start");
    // The caller waits for the other invoker: still queued, not answered; and this one does not try again at once.
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(await redis.llen(functionKeys(fn).queue)).toBe(1);
    expect(await redis.llen(repliesKey(REPLY_TO))).toBe(0);
    expect(backend.failedStarts).toBe(1);
    expect(await redis.hlen(functionKeys(fn).containers)).toBe(0);

    // The other invoker is gone: the next try, a moment later, fails the caller at once.
    await redis.zrem(INVOKER_BEATS, "other-invoker");
    const [result] = await replies(1);
    expect(result).toMatchObject({ id, status: 503 });
    expect(backend.failedStarts).toBe(2);
  });

  it("never starts more containers than its host allows, and starts the next when one exits", async () => {
    const { backend } = await startInvoker(2);
    const { fn, version } = await deployNoop({ maxContainers: 5 });
    await enqueue(fn, version, 5);
    await eventually(async () => (backend.started.length === 2 ? true : undefined), 5_000, "two container starts");
    // Work keeps waiting for room (it looks again every 250 ms): still two.
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect(backend.started).toHaveLength(2);
    expect(await redis.hlen(functionKeys(fn).containers)).toBe(2);

    // One that exits (cleanly: a retired container) makes room for the next.
    backend.exit(backend.started[0]!, 0);
    await eventually(async () => (backend.started.length === 3 ? true : undefined), 5_000, "a third start after an exit");
  });

  it("releases the containers of an invoker that stopped beating: callers 502, records and Redis users gone", async () => {
    const { fn, version } = await deployNoop({ maxContainers: 2 });
    const keys = functionKeys(fn);
    // A container of a dead invoker (no alive key) in the middle of a request, as the adapter records it.
    const deadInvoker = `dead-${randomBytes(4).toString("hex")}`;
    const containerId = randomBytes(6).toString("hex");
    await new ContainerUsers(redis).create(deadInvoker, containerId, fn);
    await redis.hset(keys.containers, containerId, formatContainerRecord({ state: "busy", version, invokerId: deadInvoker, since: Date.now() }));
    await redis.lpush(keys.running(containerId), envelope(fn, `${fn}-running`, version, {}, REPLY_TO));
    expect(await redis.exists(invokerAliveKey(deadInvoker))).toBe(0);

    await startInvoker();
    const [result] = await replies(1);
    expect(result).toMatchObject({ id: `${fn}-running`, status: 502 });
    expect(await redis.hexists(keys.containers, containerId)).toBe(0);
    await eventually(async () => (((await redis.acl("USERS")) as string[]).includes(containerUserName(deadInvoker, containerId)) ? undefined : true), 5_000, "the dead invoker's container user to go");
  });

  it("shuts out a lost invoker's container before releasing its record, so that it strands no request taken after", async () => {
    const { fn, version } = await deployNoop({ maxContainers: 2 });
    const keys = functionKeys(fn);
    // A container that outlived its invoker (no alive key), still taking every request it can, as its own Redis user.
    const deadInvoker = `dead-${randomBytes(4).toString("hex")}`;
    const containerId = randomBytes(6).toString("hex");
    const credentials = await new ContainerUsers(redis).create(deadInvoker, containerId, fn);
    const { hostname, port } = new URL(server.url);
    const orphan = new Redis({ host: hostname, port: Number(port), ...credentials, retryStrategy: () => null, maxRetriesPerRequest: 0 });
    stops.push(async () => orphan.disconnect());
    await redis.hset(keys.containers, containerId, formatContainerRecord({ state: "idle", version, invokerId: deadInvoker, since: Date.now() }));
    await redis.lpush(keys.idle, containerId);
    const taking = (async () => {
      for (;;) await orphan.blmove(keys.inbox(containerId), keys.running(containerId), "RIGHT", "LEFT", 0);
    })().catch(() => "shut out");
    // Requests keep coming while a live invoker finds the record and releases it.
    let sending = true;
    const sent = (async () => {
      for (let n = 0; sending && n < 2_000; n += 1) {
        await enqueueInvocation.run(redis, { keys, fn, envelope: envelope(fn, `${fn}-req-${n}`, version, {}, REPLY_TO), expectedVersion: version, now: Date.now() });
        await new Promise((resolve) => setTimeout(resolve, 2));
      }
    })();
    await startInvoker();
    expect(await taking).toBe("shut out");
    await eventually(async () => ((await redis.hexists(keys.containers, containerId)) === 0 ? true : undefined), 5_000, "the record's release");
    sending = false;
    await sent;
    // Whatever it took before it was shut out was answered by the release; it took nothing after.
    expect(await redis.llen(keys.running(containerId))).toBe(0);
  });

  it("releases its containers when its Docker engine stops answering for three heartbeats: their callers get 502, not a timeout", async () => {
    const { backend, invokerId } = await startInvoker();
    const { fn, version } = await deployNoop({ maxContainers: 2 });
    const keys = functionKeys(fn);
    const [id] = await enqueue(fn, version, 1);
    const [spec] = await eventually(async () => (backend.started.length === 1 ? backend.started : undefined), 5_000, "a container start");
    // The container took the request and runs it, as its adapter would.
    await redis.del(keys.queue);
    await redis.hset(keys.containers, spec!.containerId, formatContainerRecord({ state: "busy", version, invokerId, since: Date.now() }));
    await redis.lpush(keys.running(spec!.containerId), envelope(fn, id!, version, {}, REPLY_TO));

    // One silent beat is not enough; three are (HEARTBEAT_MS each).
    backend.answering = false;
    const lostAt = Date.now();
    const [result] = await replies(1);
    expect(result).toMatchObject({ id, status: 502, function: fn });
    expect(Date.now() - lostAt).toBeGreaterThanOrEqual(2 * HEARTBEAT_MS);
    expect(await redis.hexists(keys.containers, spec!.containerId)).toBe(0);
    expect(((await redis.acl("USERS")) as string[]).includes(containerUserName(invokerId, spec!.containerId))).toBe(false);
  });

  it("starts a container for work whose `work` event it never heard (lost while its event connection reconnected), at its next heartbeat", async () => {
    const { backend } = await startInvoker();
    const { fn, version } = await deployNoop({ maxContainers: 2 });
    // Queued as a gateway does, but the event never reaches the invoker.
    await redis.lpush(functionKeys(fn).queue, envelope(fn, `${fn}-req-0`, version, {}, REPLY_TO));
    const started = await eventually(async () => (backend.started.length > 0 ? backend.started : undefined), HEARTBEAT_MS * 3, "a container started by the heartbeat");
    expect(started.map((spec) => spec.function)).toEqual([fn]);
  });

  it("on stop, waits for its busy container to finish and exit, then removes every container", async () => {
    const { invoker, backend } = await startInvoker();
    const { fn, version } = await deployNoop({ maxContainers: 2 });
    const keys = functionKeys(fn);
    await enqueue(fn, version, 1);
    const [spec] = await eventually(async () => (backend.started.length === 1 ? backend.started : undefined), 5_000, "a container start");
    await redis.hset(keys.containers, spec!.containerId, formatContainerRecord({ state: "busy", version, invokerId: invoker.invokerId, since: Date.now() }));

    let stopped = false;
    const stopping = invoker.stop(10_000).then(() => (stopped = true));
    // It marked the container draining (it retires after its request) and waits for it.
    await eventually(async () => ((await redis.sismember(keys.draining, spec!.containerId)) === 1 ? true : undefined), 5_000, "the container marked draining");
    await new Promise((resolve) => setTimeout(resolve, 600));
    expect(stopped).toBe(false);

    backend.exit(spec!, 0);
    await stopping;
    expect(await redis.hexists(keys.containers, spec!.containerId)).toBe(0);
    expect(await redis.exists(invokerAliveKey(invoker.invokerId))).toBe(0);
  });

  it("a redeploy wakes the idle containers of the older version, so they retire", async () => {
    const { backend } = await startInvoker();
    const { fn, version } = await deployNoop({ maxContainers: 1 });
    await enqueue(fn, version, 1);
    const [spec] = await eventually(async () => (backend.started.length === 1 ? backend.started : undefined), 5_000, "a container start");
    await redis.del(functionKeys(fn).queue); // taken by the container; now it waits for the next
    const idle = await idleContainer(spec!);

    const { version: newer } = await deployNoop({ maxContainers: 1, keepAlive: 60 }, fn);
    expect(newer).toBeGreaterThan(version);
    expect(await idle.woken).toBe(true);
  });

  it("at its host's cap, retires another function's longest-idle container for queued work, and starts that work's container once it exits", async () => {
    const { backend } = await startInvoker(2);
    const older = await deployNoop({ maxContainers: 1 });
    const newer = await deployNoop({ maxContainers: 1 });
    const waiting = await deployNoop({ maxContainers: 1 });
    for (const { fn, version } of [older, newer]) {
      await enqueue(fn, version, 1);
      await eventually(async () => (backend.started.some((spec) => spec.function === fn) ? true : undefined), 5_000, `a container of ${fn}`);
      await redis.del(functionKeys(fn).queue);
    }
    const olderIdle = await idleContainer(backend.started.find((spec) => spec.function === older.fn)!);
    await new Promise((resolve) => setTimeout(resolve, 50));
    const newerIdle = await idleContainer(backend.started.find((spec) => spec.function === newer.fn)!);

    await enqueue(waiting.fn, waiting.version, 1);
    expect(await olderIdle.woken).toBe(true);
    const victim = backend.started.find((spec) => spec.function === older.fn)!;
    expect(await redis.sismember(functionKeys(older.fn).draining, victim.containerId)).toBe(1);
    expect(backend.started.some((spec) => spec.function === waiting.fn)).toBe(false);

    backend.exit(victim, 0);
    await eventually(async () => (backend.started.some((spec) => spec.function === waiting.fn) ? true : undefined), 5_000, "the waiting function's container");
    // The more recently idle container was left alone.
    expect(await Promise.race([newerIdle.woken, new Promise((resolve) => setTimeout(() => resolve("still waiting"), 300))])).toBe("still waiting");
  });
});

describe("stem cells, on a fake container backend", () => {
  /** The hand-over the invoker pushed to a stem cell's key, as its adapter reads it. */
  async function handOver(stemId: string): Promise<Specialization> {
    const popped = await redis.blpop(stemKey(stemId), 5);
    if (!popped) throw new Error("no hand-over came");
    return decodeSpecialization(popped[1]);
  }

  it("specializes a ready stem cell for a function's first container: the function's user handed over, memory set, the cell replaced once it is ready", async () => {
    const { backend, invokerId, invoker } = await startInvoker(16, { ...NO_STEM_CELLS, node: 1 });
    const [stem] = await eventually(async () => (invoker.stemCells.list().filter((c) => c.state === "ready").length === 1 ? backend.stemCells : undefined), 5_000, "a ready stem cell");
    // Its user may wait on its own key, nothing else.
    const stemUser = containerUserName(invokerId, stem!.stemId);
    expect(await redis.acl("DRYRUN", stemUser, "blpop", stemKey(stem!.stemId), "0")).toBe("OK");

    const { fn, version } = await deployNoop({ memory: 1024 });
    await enqueue(fn, version, 1);
    const specialization = await handOver(stem!.stemId);
    expect(specialization).toMatchObject({ function: fn, version });
    expect(backend.started).toHaveLength(0);
    expect(backend.resized).toEqual([{ dockerId: `docker-${stem!.stemId}`, memoryMb: 1024 }]);
    // The container id is the function's record's; its user is the function's.
    expect(Object.keys(await redis.hgetall(functionKeys(fn).containers))).toEqual([specialization.containerId]);
    expect(specialization.username).toBe(containerUserName(invokerId, specialization.containerId));
    expect(await redis.acl("DRYRUN", specialization.username, "hgetall", functionKeys(fn).def)).toBe("OK");

    // Ready as the function's container: the cell's own user goes, and another cell is started.
    await redis.publish(EVENTS_CHANNEL, `ready ${fn} ${specialization.containerId} {"createdAt":0,"processStartedAt":0,"codeLoadedAt":0,"runtimeReadyAt":0}`);
    await eventually(async () => (backend.stemCells.length === 2 ? true : undefined), 5_000, "a second stem cell");
    await eventually(async () => ((await redis.acl("GETUSER", stemUser)) === null ? true : undefined), 5_000, "the stem cell's user deleted");
  });

  it("releases the function's container when a specialized stem cell exits (Docker names it by the cell's id), and replaces a stem cell that dies unspecialized", async () => {
    const { backend, invoker } = await startInvoker(16, { ...NO_STEM_CELLS, node: 1 });
    const [stem] = await eventually(async () => (invoker.stemCells.list().some((c) => c.state === "ready") ? backend.stemCells : undefined), 5_000, "a ready stem cell");
    const { fn, version } = await deployNoop({ maxContainers: 1 });
    const [id] = await enqueue(fn, version, 1);
    await handOver(stem!.stemId);
    backend.exitById(stem!.stemId, 1);
    // It died before it was ready: the queued caller hears it, and the record is gone.
    const [result] = await replies(1);
    expect(result).toMatchObject({ id, status: 503 });
    expect(await redis.hlen(functionKeys(fn).containers)).toBe(0);

    // A stem cell that dies before any function took it is replaced (after a moment).
    const [next] = await eventually(async () => (invoker.stemCells.list().some((c) => c.state === "ready") ? invoker.stemCells.list() : undefined), 5_000, "a new stem cell");
    backend.exitById(next!.stemId, 137);
    await eventually(async () => (backend.stemCells.length === 3 ? true : undefined), 10_000, "a replacement");
  });

  it("starts a container normally when the stem cell does not fit (another /tmp size), and removes a stem cell when the host has no other room", async () => {
    const { backend, invoker } = await startInvoker(2, { ...NO_STEM_CELLS, node: 1 });
    const [stem] = await eventually(async () => (invoker.stemCells.list().some((c) => c.state === "ready") ? backend.stemCells : undefined), 5_000, "a ready stem cell");
    const bigTmp = await deployNoop({ ephemeralStorage: 1024 });
    await enqueue(bigTmp.fn, bigTmp.version, 1);
    await eventually(async () => (backend.started.length === 1 ? true : undefined), 5_000, "a normal start");
    expect(invoker.stemCells.list().map((c) => [c.stemId, c.state])).toEqual([[stem!.stemId, "ready"]]);
    expect(await redis.llen(stemKey(stem!.stemId))).toBe(0);

    // The host's two places are taken (the container, the stem cell): another function's container takes the cell's.
    const other = await deployNoop({ ephemeralStorage: 2048 });
    await enqueue(other.fn, other.version, 1);
    await eventually(async () => (backend.started.length === 2 ? true : undefined), 5_000, "a start in the stem cell's room");
    expect(backend.started[1]!.function).toBe(other.fn);
    expect(backend.removed).toContain(`docker-${stem!.stemId}`);
    expect(invoker.stemCells.list()).toEqual([]);
  });
});
