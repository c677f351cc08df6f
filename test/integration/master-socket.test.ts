// The invoker's sockets for containers with Sentinel or a Cluster: each connection goes to the master of
// the moment; after a failover the old ones are cut and new ones wait until the new master is ready for them.

import { EventEmitter } from "node:events";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Address } from "../../gateway/redis/connections.js";
import type { EmbeddedRedis } from "../../gateway/redis/embedded-redis.js";
import type { Cluster } from "ioredis";
import { createLogger } from "../../gateway/logger.js";
import { ClusterSockets } from "../../gateway/redis/cluster-sockets.js";
import { MasterSocket } from "../../gateway/redis/master-socket.js";
import { startTestRedis } from "../support/hearth.js";

const PROBE = { username: "probe", password: "probe-password" };
let nodes: Array<{ server: EmbeddedRedis; address: Address }> = [];
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "hearth-master-socket-"));
  for (const name of ["a", "b"]) {
    const server = await startTestRedis();
    const admin = new Redis(server.url);
    await admin.acl("SETUSER", PROBE.username, "on", `>${PROBE.password}`, "~*", "+@all");
    await admin.set("node", name);
    admin.disconnect();
    const url = new URL(server.url);
    nodes.push({ server, address: { host: url.hostname, port: Number(url.port) } });
  }
});

afterAll(async () => {
  for (const { server } of nodes) await server.stop();
  nodes = [];
  await rm(dir, { recursive: true, force: true });
});

function connect(socketPath: string): Redis {
  const client = new Redis({ path: socketPath, ...PROBE, retryStrategy: () => null, maxRetriesPerRequest: 0 });
  client.on("error", () => undefined);
  return client;
}

describe("the invoker's socket to the master", () => {
  it("forwards to the master, cuts its connections on a failover, and sends new ones to the new master once it is ready", async () => {
    const socket = await MasterSocket.listen(path.join(dir, "socket", "redis.sock"), nodes[0]!.address);
    try {
      const before = connect(socket.path);
      expect(await before.get("node")).toBe("a");
      const cut = new Promise((resolve) => before.once("end", resolve));

      let newMasterReady!: (address: Address) => void;
      socket.retarget(new Promise((resolve) => (newMasterReady = resolve)));
      await cut;

      const after = connect(socket.path);
      let answered = false;
      const read = after.get("node").then((value) => ((answered = true), value));
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(answered).toBe(false);
      newMasterReady(nodes[1]!.address);
      expect(await read).toBe("b");
      after.disconnect();
    } finally {
      await socket.close();
    }
  });
});

describe("the invoker's sockets to a cluster's masters", () => {
  it("forwards to a promoted master even when the first catch-up with it failed: a retry finds the map unchanged", async () => {
    // What ClusterSockets uses of the cluster client: its map of slots (every slot on one master here) and its events.
    const map = (address: Address): Pick<Cluster, "slots"> => ({ slots: Array.from({ length: 16384 }, () => [`${address.host}:${address.port}`]) });
    const cluster = Object.assign(new EventEmitter(), map(nodes[0]!.address));
    const sockets = await ClusterSockets.listen(path.join(dir, "cluster-sockets"), cluster as Cluster, createLogger("test-cluster-sockets"));
    try {
      const socketPath = path.join(sockets.directory, "slots-0.sock");
      const before = connect(socketPath);
      expect(await before.get("node")).toBe("a");
      // The replica is promoted, and catching up with it fails (the cluster still answers CLUSTERDOWN)…
      cluster.slots = map(nodes[1]!.address).slots;
      await sockets.follow(Promise.reject(new Error("CLUSTERDOWN The cluster is down")));
      // …then succeeds: the map is the same, and new connections reach the new master.
      await sockets.follow(Promise.resolve());
      const after = connect(socketPath);
      expect(await after.get("node")).toBe("b");
      before.disconnect();
      after.disconnect();
    } finally {
      await sockets.close();
    }
  });
});
