// A Redis Cluster on loopback for a test: three masters (no replicas) on free ports, each with its own
// temporary directory and the same password, their 16384 slots split in three ranges. stop() ends them
// by their process ids and removes the directory.

import { randomBytes } from "node:crypto";
import { mkdir } from "node:fs/promises";
import path from "node:path";
import { Cluster, Redis } from "ioredis";
import { freePort, waitForPing } from "../../gateway/redis/embedded-redis.js";
import { eventually } from "./eventually.js";
import { quiet, startRedisProcesses } from "./redis-processes.js";

const SLOTS = 16384;

export interface ClusterNode {
  port: number;
  /** The first and last slot this master serves. */
  slots: [number, number];
  /** A plain connection of the test's own to this one node. */
  connect(): Redis;
}

export interface RedisCluster {
  password: string;
  nodes: ClusterNode[];
  /** A cluster client (ioredis Cluster) that routes each command to the master of its slot. */
  connect(): Cluster;
  stop(): Promise<void>;
}

export async function startRedisCluster(masters = 3): Promise<RedisCluster> {
  const { dir, start, stop } = await startRedisProcesses("hearth-test-cluster-");
  const password = randomBytes(16).toString("hex");
  try {
    const nodes: ClusterNode[] = [];
    const busPorts: number[] = [];
    for (let i = 0; i < masters; i += 1) {
      // The bus port is chosen free as well: the default (port + 10000) may be taken or past 65535.
      const [port, busPort] = [await freePort(), await freePort()];
      const nodeDir = path.join(dir, `node-${port}`);
      await mkdir(nodeDir);
      const configFile = path.join(nodeDir, "redis.conf");
      const settings = [
        `bind 127.0.0.1`,
        `port ${port}`,
        `cluster-enabled yes`,
        `cluster-port ${busPort}`,
        `cluster-config-file ${path.join(nodeDir, "nodes.conf")}`,
        `cluster-node-timeout 5000`,
        `dir ${nodeDir}`,
        `requirepass ${password}`,
        `masterauth ${password}`,
        `save ""`,
        `appendonly no`,
      ];
      await start(configFile, settings);
      await waitForPing(`redis://:${password}@127.0.0.1:${port}`);
      const first = Math.floor((SLOTS * i) / masters);
      const last = Math.floor((SLOTS * (i + 1)) / masters) - 1;
      busPorts.push(busPort);
      nodes.push({ port, slots: [first, last], connect: () => quiet(new Redis({ host: "127.0.0.1", port, password, maxRetriesPerRequest: 1 })) });
    }
    // By hand rather than `redis-cli --cluster create`: each master takes its range, the first meets
    // the others, and gossip does the rest (no fixed waits, no prompts).
    const clients = nodes.map((node) => node.connect());
    try {
      await Promise.all(nodes.map((node, i) => clients[i]!.call("CLUSTER", "ADDSLOTSRANGE", node.slots[0], node.slots[1])));
      for (let i = 1; i < nodes.length; i += 1) await clients[0]!.call("CLUSTER", "MEET", "127.0.0.1", nodes[i]!.port, busPorts[i]!);
      for (const client of clients) {
        await eventually(async () => ((await client.call("CLUSTER", "INFO")) as string).includes("cluster_state:ok") || undefined, 20_000, "cluster_state:ok on every master");
      }
    } finally {
      clients.forEach((client) => client.disconnect());
    }
    const connect = (): Cluster => {
      const cluster = new Cluster(
        nodes.map((node) => ({ host: "127.0.0.1", port: node.port })),
        { redisOptions: { password, maxRetriesPerRequest: 1 } },
      );
      cluster.on("error", () => undefined);
      return cluster;
    };
    return { password, nodes, connect, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
