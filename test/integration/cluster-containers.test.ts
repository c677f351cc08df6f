// Function containers on a real three-master Redis Cluster: their users are made on every master and
// reach only their function's keys there; the invoker's sockets (one per master) forward to the master
// of the slots the map gives them; and the real adapter (ContainerWorker, outside Docker) serves sync
// and async invocations through those sockets with its function's slot and the reply list on different
// masters, and a stem cell's hand-over reaches its function's master.

import { chmod, mkdtemp, readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import calculateSlot from "cluster-key-slot";
import { Redis, type Cluster } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RedisNodes, type RedisCredentials } from "../../gateway/adapter/redis-nodes.js";
import { awaitSpecialization } from "../../gateway/adapter/stem-cell.js";
import { ContainerUsers, containerUserName } from "../../gateway/invoker/container-users.js";
import { loadScripts } from "../../gateway/protocol/all-scripts.js";
import { enqueueAsyncInvocation } from "../../gateway/protocol/async-lifecycle.js";
import { finishInvocation } from "../../gateway/protocol/container-lifecycle.js";
import { decodeMessage, type ResultMeta } from "../../gateway/protocol/envelope.js";
import { functionKeys, newInvocationId, repliesKey } from "../../gateway/protocol/keys.js";
import { encodeSpecialization, stemKey } from "../../gateway/protocol/stem-cells.js";
import { onMasterChange, ready } from "../../gateway/redis/connections.js";
import { freePort, waitForPing } from "../../gateway/redis/embedded-redis.js";
import { createLogger } from "../../gateway/logger.js";
import { ClusterSockets, type SlotsMap } from "../../gateway/redis/cluster-sockets.js";
import { probeHandler } from "../support/functions.js";
import { eventually } from "../support/hearth.js";
import { startRedisCluster, type RedisCluster } from "../support/redis-cluster.js";
import { quiet, startRedisProcesses } from "../support/redis-processes.js";
import { envelope, enqueue, runWorker } from "../support/worker.js";

let cluster: RedisCluster;
let admin: Cluster;
let users: ContainerUsers;
let sockets: ClusterSockets;
let dir: string;
const opened: RedisNodes[] = [];

/** The index of the master that serves `key`'s slot. */
function masterOf(key: string): number {
  const slot = calculateSlot(key);
  return cluster.nodes.findIndex(({ slots: [first, last] }) => slot >= first && slot <= last);
}

/** The first name `make(i)` whose key `keyOf(name)` is on master `master`. */
function nameOn(master: number, make: (i: number) => string, keyOf: (name: string) => string): string {
  for (let i = 0; ; i += 1) if (masterOf(keyOf(make(i))) === master) return make(i);
}

/** The adapter's connections, as in a container: through the invoker's sockets, as `credentials`, no ready check (INFO). */
function adapterNodes(credentials: RedisCredentials): RedisNodes {
  const nodes = RedisNodes.cluster(sockets.mapPath, (socketPath, user) => {
    const client = new Redis({ path: socketPath, ...user, enableReadyCheck: false, retryStrategy: () => null, maxRetriesPerRequest: 0 });
    client.on("error", () => undefined);
    return client;
  }, credentials);
  opened.push(nodes);
  return nodes;
}

/** A connection straight to master `index` as `credentials`. */
function onMaster(index: number, credentials: RedisCredentials): Redis {
  const client = new Redis({ host: "127.0.0.1", port: cluster.nodes[index]!.port, ...credentials, enableReadyCheck: false, retryStrategy: () => null, maxRetriesPerRequest: 0 });
  client.on("error", () => undefined);
  return client;
}

beforeAll(async () => {
  cluster = await startRedisCluster();
  admin = cluster.connect();
  await ready(admin);
  await loadScripts(admin);
  users = new ContainerUsers(admin);
  dir = await mkdtemp(path.join(os.tmpdir(), "hearth-cluster-sockets-"));
  sockets = await ClusterSockets.listen(path.join(dir, "sockets"), admin, createLogger("test-cluster-sockets"));
}, 60_000);

afterAll(async () => {
  for (const nodes of opened) nodes.disconnect();
  await sockets?.close();
  admin?.disconnect();
  await cluster?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe("function containers on a Redis Cluster", () => {
  it("serve a socket per master, each forwarding to the master of the slots the map gives it", async () => {
    const map = JSON.parse(await readFile(sockets.mapPath, "utf8")) as SlotsMap;
    expect(map.map(([first, last]) => [first, last])).toEqual(cluster.nodes.map(({ slots }) => slots));
    expect(new Set(map.map(([, , socket]) => socket)).size).toBe(3);
    const through = adapterNodes({ username: "default", password: cluster.password });
    for (const [index, node] of cluster.nodes.entries()) {
      const key = nameOn(index, (i) => `probe-${i}`, (name) => name);
      const connection = through.connectionFor(key);
      // The node behind the socket is the master of the key's slot: it answers, where another would say MOVED.
      expect(await connection.set(key, "here")).toBe("OK");
      expect((await connection.info("server")).match(/tcp_port:(\d+)/)?.[1]).toBe(String(node.port));
    }
  });

  it("make each container's user on every master, where it reaches its own function's keys only, and delete it on every master", async () => {
    const fn = nameOn(0, (i) => `own-${i}`, (name) => functionKeys(name).def);
    const other = nameOn(0, (i) => `other-${i}`, (name) => functionKeys(name).def);
    const credentials = await users.create("inv-1", "c-every", fn);
    for (const index of cluster.nodes.keys()) {
      expect(await cluster.nodes[index]!.connect().acl("USERS")).toContain(containerUserName("inv-1", "c-every"));
    }
    const master = onMaster(0, credentials);
    try {
      expect(await master.hset(functionKeys(fn).def, "probe", 1)).toBe(1);
      await expect(master.hgetall(functionKeys(other).def)).rejects.toThrow(/NOPERM/);
      await expect(master.call("keys", "*")).rejects.toThrow(/NOPERM/);
    } finally {
      master.disconnect();
    }
    // A reply list on another master: pushed, not read.
    const gateway = nameOn(2, (i) => `gw-${i}`, repliesKey);
    const elsewhere = onMaster(2, credentials);
    try {
      expect(await elsewhere.rpush(repliesKey(gateway), "result")).toBe(1);
      await expect(elsewhere.lrange(repliesKey(gateway), 0, -1)).rejects.toThrow(/NOPERM/);
    } finally {
      elsewhere.disconnect();
    }

    await users.removeWhere((invokerId) => invokerId === "inv-1");
    for (const index of cluster.nodes.keys()) {
      expect(await cluster.nodes[index]!.connect().acl("USERS")).not.toContain(containerUserName("inv-1", "c-every"));
    }
  });

  it("restore the users and scripts on a master that lacks them", async () => {
    const credentials = await users.create("inv-2", "c-restored", "restored");
    const lacking = cluster.nodes[1]!.connect();
    await lacking.acl("DELUSER", credentials.username);
    await lacking.script("FLUSH");
    await users.restore();
    expect(await lacking.acl("USERS")).toContain(credentials.username);
    expect(await lacking.script("EXISTS", finishInvocation.sha)).toEqual([1]);
    await users.remove("inv-2", "c-restored");
    lacking.disconnect();
  });

  it("serve sync and async invocations through the sockets with the function's slot and the reply list on different masters", async () => {
    const fn = nameOn(0, (i) => `served-${i}`, (name) => functionKeys(name).def);
    const gateway = nameOn(1, (i) => `gw-${i}`, repliesKey);
    const keys = functionKeys(fn);
    const credentials = await users.create("inv-3", "c-served", fn);
    const taskRoot = await mkdtemp(path.join(os.tmpdir(), "hearth-task-"));
    // The runtime runs under a uid of its own, as in a container; it reads its code from here.
    await chmod(taskRoot, 0o755);
    const worker = await runWorker(admin, adapterNodes(credentials), taskRoot, {
      fn,
      containerId: "c-served",
      config: { runtime: "node", keepAlive: 3 },
      files: { "index.js": probeHandler() },
      bootstrap: path.resolve("images/node/bootstrap.cjs"),
    });
    try {
      for (const id of ["sync-1", "sync-2"]) {
        await enqueue(admin, fn, envelope(fn, `${fn}.${id}`, 1, { echo: id }, gateway));
        const popped = (await admin.blpopBuffer(repliesKey(gateway), 20))!;
        const result = decodeMessage<ResultMeta>(popped[1]);
        expect(result.meta).toMatchObject({ id: `${fn}.${id}`, function: fn, status: 200, containerId: "c-served" });
        expect(JSON.parse(result.payload.toString())).toMatchObject({ echo: id });
        // Idle before its caller has the result (the finish on its master answered first): the caller's next request finds it free.
        expect(await admin.lrange(keys.idle, 0, -1)).toContain("c-served");
      }
      const history = await eventually(async () => {
        const entries = await admin.lrange(keys.history, 0, -1);
        return entries.length === 2 ? entries : undefined;
      }, 5_000, "both invocations in the history");
      expect(history.map((entry) => (JSON.parse(entry) as { id: string }).id)).toEqual([`${fn}.sync-2`, `${fn}.sync-1`]);

      const id = newInvocationId(fn);
      await enqueueAsyncInvocation.run(admin, { keys, fn, id, payload: Buffer.from(JSON.stringify({ echo: "async" })), expectedVersion: 1, now: Date.now(), retentionMs: 60_000 });
      await eventually(async () => ((await admin.hget(keys.invocation(id), "status")) === "succeeded" || undefined), 20_000, "the async invocation to succeed");
    } finally {
      await worker.stop();
      await users.remove("inv-3", "c-served");
      await rm(taskRoot, { recursive: true, force: true });
    }
    expect(await admin.hexists(keys.containers, "c-served")).toBe(0);
  });

  it("hand a stem cell, waiting on its own master, its function's user, with which it reaches its function's master", async () => {
    const stemId = nameOn(0, (i) => `stem${i}`, stemKey);
    const fn = nameOn(2, (i) => `special-${i}`, (name) => functionKeys(name).def);
    const cell = await users.createStemCell("inv-4", stemId);
    const nodes = adapterNodes(cell);
    // Before its hand-over it reaches no function's key.
    await expect(nodes.connectionFor(functionKeys(fn).def).hgetall(functionKeys(fn).def)).rejects.toThrow(/NOPERM/);
    const own = await users.create("inv-4", "c-special", fn);
    const handedOver = awaitSpecialization(nodes, stemId);
    await admin.rpush(stemKey(stemId), encodeSpecialization({ function: fn, version: 1, codeSha: "0".repeat(64), containerId: "c-special", createdAt: Date.now(), ...own }));
    expect(await handedOver).toMatchObject({ function: fn, containerId: "c-special" });
    expect(await nodes.connectionFor(functionKeys(fn).def).hset(functionKeys(fn).stats, "probe", 1)).toBe(1);
    await users.removeWhere((invokerId) => invokerId === "inv-4");
  });

  // Last: the cluster's first master is a replica after it.
  it("retarget the socket of a master that fails over: its connections cut, new ones reach the promoted replica once it has the containers' users", async () => {
    const fn = nameOn(0, (i) => `moved-${i}`, (name) => functionKeys(name).def);
    const credentials = await users.create("inv-5", "c-moved", fn);
    const mapBefore = await readFile(sockets.mapPath, "utf8");
    const replica = await startReplicaOf(0);
    try {
      onMasterChange(admin, () => void sockets.follow(users.restore()));
      const before = adapterNodes(credentials).connectionFor(functionKeys(fn).def);
      expect(await before.hset(functionKeys(fn).stats, "before", 1)).toBe(1);
      const cut = new Promise((resolve) => before.once("end", resolve));

      await replica.client.call("CLUSTER", "FAILOVER");
      await eventually(async () => {
        await new Promise<void>((resolve) => admin.refreshSlotsCache(() => resolve()));
        return admin.slots[calculateSlot(functionKeys(fn).def)]?.[0] === `127.0.0.1:${replica.port}` || undefined;
      }, 20_000, "the replica to serve the first master's slots");
      await cut;

      const after = adapterNodes(credentials).connectionFor(functionKeys(fn).def);
      // The new master: the function's keys as replicated, and the container's user (not replicated) made on it.
      expect(await after.hget(functionKeys(fn).stats, "before")).toBe("1");
      expect(await after.hset(functionKeys(fn).stats, "after", 1)).toBe(1);
      expect(await replica.client.role()).toContain("master");
      // The same slots, served by the same socket under the same name.
      expect(await readFile(sockets.mapPath, "utf8")).toBe(mapBefore);
    } finally {
      await users.remove("inv-5", "c-moved");
      await replica.stop();
    }
  }, 60_000);
});

/** A replica of master `index`, joined to the cluster and in sync with it. */
async function startReplicaOf(index: number): Promise<{ port: number; client: Redis; stop(): Promise<void> }> {
  const processes = await startRedisProcesses("hearth-test-replica-");
  const [port, busPort] = [await freePort(), await freePort()];
  await processes.start(path.join(processes.dir, "redis.conf"), [
    "bind 127.0.0.1",
    `port ${port}`,
    "cluster-enabled yes",
    `cluster-port ${busPort}`,
    `cluster-config-file ${path.join(processes.dir, "nodes.conf")}`,
    "cluster-node-timeout 5000",
    `dir ${processes.dir}`,
    `requirepass ${cluster.password}`,
    `masterauth ${cluster.password}`,
    'save ""',
    "appendonly no",
  ]);
  await waitForPing(`redis://:${cluster.password}@127.0.0.1:${port}`);
  const client = quiet(new Redis({ host: "127.0.0.1", port, password: cluster.password, maxRetriesPerRequest: 1 }));
  const master = cluster.nodes[index]!.connect();
  try {
    // The master's own line of CLUSTER NODES: "<id> 127.0.0.1:<port>@<bus port> myself,master …".
    const own = ((await master.call("CLUSTER", "NODES")) as string).split("\n").find((line) => line.includes("myself"))!;
    const [masterId, address] = own.split(" ") as [string, string];
    await client.call("CLUSTER", "MEET", "127.0.0.1", cluster.nodes[index]!.port, address.split("@")[1]!);
    await eventually(async () => ((await client.call("CLUSTER", "NODES")) as string).includes(masterId) || undefined, 20_000, "the replica to know its master");
    await client.call("CLUSTER", "REPLICATE", masterId);
    await eventually(async () => (await client.info("replication")).includes("master_link_status:up") || undefined, 20_000, "the replica in sync");
  } finally {
    master.disconnect();
  }
  return {
    port,
    client,
    stop: async () => {
      client.disconnect();
      await processes.stop();
    },
  };
}
