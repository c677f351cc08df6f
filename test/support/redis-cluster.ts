// A Redis Cluster on loopback for a test: three masters on free ports (with `replicas`, a replica of each
// too), each node with its own temporary directory and the same password, the 16384 slots split in three
// ranges. killMaster() fails one master over as a crashed host would; stop() ends the nodes by their
// process ids and removes the directory.

import type { ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdir } from "node:fs/promises";
import path from "node:path";
import calculateSlot from "cluster-key-slot";
import { Cluster, Redis } from "ioredis";
import { freePort, waitForPing } from "../../gateway/redis/embedded-redis.js";
import { eventually } from "./eventually.js";
import { quiet, startRedisProcesses } from "./redis-processes.js";

const SLOTS = 16384;
/**
 * How long a master may be unreachable before the others count it failed and its replica takes over:
 * short, so that a test's failover takes a few seconds (the default, 15 s, would make it slow).
 */
export const CLUSTER_NODE_TIMEOUT_MS = 1_000;

export interface ClusterNode {
  port: number;
  /** The first and last slot of the range this node was started to serve (as master, or as its replica); [-1, -1] for an added master. */
  slots: [number, number];
  /** A plain connection of the test's own to this one node. */
  connect(): Redis;
}

export interface RedisCluster {
  password: string;
  /** The masters as started, one per slot range: after a failover, nodes[i]'s range is its replica's. */
  nodes: ClusterNode[];
  /** replicas[i] replicates nodes[i] (empty without replicas). */
  replicas: ClusterNode[];
  /** A cluster client (ioredis Cluster) that routes each command to the master of its slot. */
  connect(): Cluster;
  /** The index of the slot range (of nodes and replicas) that holds `key`. */
  rangeOf(key: string): number;
  /** The node serving `key`'s slot as master now (asked of the cluster, so right after a failover too). */
  masterOf(key: string): Promise<ClusterNode>;
  /**
   * SIGKILLs the master that serves range `i` now and waits until its replica serves the range: the
   * surviving nodes say cluster_state:ok and name the replica as the master of the range's slots.
   */
  killMaster(i: number): Promise<{ killed: ClusterNode; promoted: ClusterNode }>;
  /**
   * SIGKILLs the master of slot range i when no replica is left to take over: the range goes unserved,
   * and (full coverage being required) every node answers CLUSTERDOWN. Resolves once all say so.
   */
  killLastCopy(i: number): Promise<void>;
  /**
   * Moves one slot, keys and all, to master `to`, as `redis-cli --cluster reshard` does it; resolves once
   * every node names that master for the slot.
   */
  moveSlot(slot: number, to: ClusterNode): Promise<void>;
  /** Starts a master with no slots and joins it to the cluster; resolves once every node knows it. */
  addMaster(): Promise<ClusterNode>;
  stop(): Promise<void>;
}

export interface RedisClusterOptions {
  masters?: number;
  /** A replica for each master (CLUSTER REPLICATE), in sync before the cluster is handed over. */
  replicas?: boolean;
}

export async function startRedisCluster({ masters = 3, replicas = false }: RedisClusterOptions = {}): Promise<RedisCluster> {
  const { dir, start, stop } = await startRedisProcesses("hearth-test-cluster-");
  const password = randomBytes(16).toString("hex");
  try {
    const processes = new Map<number, ChildProcess>();
    const busPorts = new Map<number, number>();
    const startNode = async (slots: [number, number]): Promise<ClusterNode> => {
      // The bus port is chosen free as well: the default (port + 10000) may be taken or past 65535.
      const [port, busPort] = [await freePort(), await freePort()];
      const nodeDir = path.join(dir, `node-${port}`);
      await mkdir(nodeDir);
      const settings = [
        `bind 127.0.0.1`,
        `port ${port}`,
        `cluster-enabled yes`,
        `cluster-port ${busPort}`,
        `cluster-config-file ${path.join(nodeDir, "nodes.conf")}`,
        `cluster-node-timeout ${CLUSTER_NODE_TIMEOUT_MS}`,
        // A replica may take over however long its link was down (the default refuses after 10 node timeouts).
        `cluster-replica-validity-factor 0`,
        `dir ${nodeDir}`,
        `requirepass ${password}`,
        `masterauth ${password}`,
        `save ""`,
        `appendonly no`,
        // With replicas of the harness's own, a replica's first full sync starts at once, not 5 s later
        // waiting for others (the default, kept otherwise: a test that adds a replica itself may count on it).
        ...(replicas ? [`repl-diskless-sync-delay 0`] : []),
      ];
      processes.set(port, await start(path.join(nodeDir, "redis.conf"), settings));
      busPorts.set(port, busPort);
      await waitForPing(`redis://:${password}@127.0.0.1:${port}`);
      return { port, slots, connect: () => quiet(new Redis({ host: "127.0.0.1", port, password, maxRetriesPerRequest: 1 })) };
    };
    const nodes: ClusterNode[] = [];
    for (let i = 0; i < masters; i += 1) {
      nodes.push(await startNode([Math.floor((SLOTS * i) / masters), Math.floor((SLOTS * (i + 1)) / masters) - 1]));
    }
    const replicaNodes: ClusterNode[] = [];
    if (replicas) for (const master of nodes) replicaNodes.push(await startNode(master.slots));
    const all = [...nodes, ...replicaNodes];

    // By hand rather than `redis-cli --cluster create`: each master takes its range, the first node meets
    // the others, gossip does the rest, and each replica replicates its master (no fixed waits, no prompts).
    const clients = all.map((node) => node.connect());
    try {
      await Promise.all(nodes.map((node, i) => clients[i]!.call("CLUSTER", "ADDSLOTSRANGE", node.slots[0], node.slots[1])));
      for (const node of all.slice(1)) await clients[0]!.call("CLUSTER", "MEET", "127.0.0.1", node.port, busPorts.get(node.port)!);
      for (const client of clients) await eventually(async () => (await clusterInfo(client)).includes("cluster_state:ok") || undefined, 20_000, "cluster_state:ok on every node");
      const ids = await Promise.all(clients.map(async (client) => (await client.call("CLUSTER", "MYID")) as string));
      for (let i = 0; i < replicaNodes.length; i += 1) {
        const client = clients[nodes.length + i]!;
        // A node must know the master (gossip) before it can replicate it.
        await eventually(async () => ((await client.call("CLUSTER", "NODES")) as string).includes(ids[i]!) || undefined, 20_000, "the replica to know its master");
        await client.call("CLUSTER", "REPLICATE", ids[i]!);
      }
      for (const client of clients.slice(nodes.length)) {
        await eventually(async () => ((await client.info("replication")).includes("master_link_status:up") ? true : undefined), 20_000, "every replica in sync");
      }
      // Every node sees the replicas as such before a test may fail a master over.
      for (const client of clients) {
        await eventually(async () => (countReplicas((await client.call("CLUSTER", "NODES")) as string) === replicaNodes.length ? true : undefined), 20_000, "every node to know the replicas");
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
    const rangeOf = (key: string): number => {
      const slot = calculateSlot(key);
      return nodes.findIndex((node) => node.slots[0] <= slot && slot <= node.slots[1]);
    };
    /** The master of `slot` as `node` sees it now. */
    const masterPortSeenBy = async (node: ClusterNode, slot: number): Promise<number | undefined> => {
      const client = node.connect();
      try {
        const ranges = (await client.call("CLUSTER", "SLOTS")) as Array<[number, number, [string, number, ...unknown[]]]>;
        const range = ranges.find(([first, last]) => first <= slot && slot <= last);
        return range ? Number(range[2][1]) : undefined;
      } finally {
        client.disconnect();
      }
    };
    const running = (): ClusterNode[] => all.filter((node) => {
      const child = processes.get(node.port)!;
      return child.exitCode === null && child.signalCode === null;
    });
    const masterOfSlot = async (slot: number): Promise<ClusterNode> => {
      const port = await masterPortSeenBy(running()[0]!, slot);
      const node = all.find((candidate) => candidate.port === port);
      if (!node) throw new Error(`no master serves slot ${slot}`);
      return node;
    };
    /** SIGKILLs the master serving range i; resolves with it once its process has exited. */
    const killMasterProcess = async (i: number): Promise<ClusterNode> => {
      const killed = await masterOfSlot(nodes[i]!.slots[0]);
      const child = processes.get(killed.port)!;
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGKILL");
      await exited;
      return killed;
    };
    const killMaster = async (i: number): Promise<{ killed: ClusterNode; promoted: ClusterNode }> => {
      const slot = nodes[i]!.slots[0];
      const killed = await killMasterProcess(i);
      const survivors = running();
      const promotedPort = await eventually(async () => {
        const seen = await Promise.all(survivors.map(async (node) => {
          const client = node.connect();
          try {
            return (await clusterInfo(client)).includes("cluster_state:ok") ? await masterPortSeenBy(node, slot) : undefined;
          } catch {
            return undefined;
          } finally {
            client.disconnect();
          }
        }));
        const [first] = seen;
        return first !== undefined && first !== killed.port && seen.every((port) => port === first) ? first : undefined;
      }, 30_000, `a replica to take over from the master on port ${killed.port}`);
      return { killed, promoted: all.find((node) => node.port === promotedPort)! };
    };
    const killLastCopy = async (i: number): Promise<void> => {
      await killMasterProcess(i);
      const survivors = running();
      await eventually(async () => {
        const states = await Promise.all(survivors.map(async (node) => {
          const client = node.connect();
          try {
            return await clusterInfo(client);
          } finally {
            client.disconnect();
          }
        }));
        return states.every((info) => info.includes("cluster_state:fail")) ? true : undefined;
      }, 30_000, "every surviving node to count the cluster down");
    };
    const moveSlot = async (slot: number, target: ClusterNode): Promise<void> => {
      const source = await masterOfSlot(slot);
      if (source.port === target.port) return;
      const [from, into] = [source.connect(), target.connect()];
      try {
        const [fromId, intoId] = (await Promise.all([from.call("CLUSTER", "MYID"), into.call("CLUSTER", "MYID")])) as [string, string];
        // The order the Redis Cluster specification gives: importing, migrating, the keys, then the owner.
        await into.call("CLUSTER", "SETSLOT", slot, "IMPORTING", fromId);
        await from.call("CLUSTER", "SETSLOT", slot, "MIGRATING", intoId);
        for (;;) {
          const keys = (await from.call("CLUSTER", "GETKEYSINSLOT", slot, 100)) as string[];
          if (keys.length === 0) break;
          await from.call("MIGRATE", "127.0.0.1", target.port, "", 0, 5_000, "AUTH", password, "KEYS", ...keys);
        }
        await into.call("CLUSTER", "SETSLOT", slot, "NODE", intoId);
        await from.call("CLUSTER", "SETSLOT", slot, "NODE", intoId);
      } finally {
        from.disconnect();
        into.disconnect();
      }
      const survivors = running();
      await eventually(async () => {
        const seen = await Promise.all(survivors.map((node) => masterPortSeenBy(node, slot).catch(() => undefined)));
        return seen.every((port) => port === target.port) ? true : undefined;
      }, 20_000, `every node to name port ${target.port} for slot ${slot}`);
    };
    const addMaster = async (): Promise<ClusterNode> => {
      const added = await startNode([-1, -1]);
      const client = all[0]!.connect();
      try {
        await client.call("CLUSTER", "MEET", "127.0.0.1", added.port, busPorts.get(added.port)!);
      } finally {
        client.disconnect();
      }
      const id = await (async () => {
        const own = added.connect();
        try {
          return (await own.call("CLUSTER", "MYID")) as string;
        } finally {
          own.disconnect();
        }
      })();
      all.push(added);
      for (const node of running()) {
        await eventually(async () => {
          const client = node.connect();
          try {
            return ((await client.call("CLUSTER", "NODES")) as string).includes(id) ? true : undefined;
          } finally {
            client.disconnect();
          }
        }, 20_000, "every node to know the added master");
      }
      // It serves (and takes keys) once it knows every slot's master.
      const own = added.connect();
      try {
        await eventually(async () => ((await clusterInfo(own)).includes("cluster_state:ok") ? true : undefined), 20_000, "the added master to see the cluster whole");
      } finally {
        own.disconnect();
      }
      return added;
    };
    return { password, nodes, replicas: replicaNodes, connect, rangeOf, masterOf: (key) => masterOfSlot(calculateSlot(key)), killMaster, killLastCopy, moveSlot, addMaster, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

async function clusterInfo(client: Redis): Promise<string> {
  return (await client.call("CLUSTER", "INFO")) as string;
}

/** The replicas a CLUSTER NODES answer lists (`<id> <address> <flags> …`, flags such as `myself,slave`). */
function countReplicas(clusterNodes: string): number {
  return clusterNodes.split("\n").filter((line) => (line.split(" ")[2] ?? "").split(",").includes("slave")).length;
}
