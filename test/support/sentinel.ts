// Redis with Sentinel on loopback for a test: a master, a replica and three Sentinels on free ports,
// their files in a temporary directory; the test kills and restarts nodes, stop() ends them all.

import { randomBytes } from "node:crypto";
import { mkdir } from "node:fs/promises";
import path from "node:path";
import { Redis } from "ioredis";
import type { Address, SentinelTarget } from "../../gateway/redis/connections.js";
import { freePort, waitForPing } from "../../gateway/redis/embedded-redis.js";
import { eventually } from "./hearth.js";
import { quiet, startRedisProcesses } from "./redis-processes.js";

export const MASTER_NAME = "hearth";

export interface RedisNode {
  port: number;
  /** A connection of the test's own to this node (Redis's password). */
  connect(): Redis;
  /** SIGKILL, as a crashed host would. */
  kill(): Promise<void>;
  /** Starts it again with its configuration (Sentinel makes a former master a replica). */
  restart(): Promise<void>;
}

export interface SentinelSetup {
  /** What Hearth is given: the Sentinels, the master's name, both passwords. */
  target: SentinelTarget;
  nodes: RedisNode[];
  /** The node the Sentinels name as master now. */
  master(): Promise<RedisNode>;
  stop(): Promise<void>;
}

export async function startSentinelSetup(): Promise<SentinelSetup> {
  const { dir, start, stop } = await startRedisProcesses("hearth-test-sentinel-");
  const password = randomBytes(16).toString("hex");
  const sentinelPassword = randomBytes(16).toString("hex");
  try {
    const nodes: RedisNode[] = [];
    let masterPort = 0;
    for (const role of ["master", "replica"]) {
      const port = await freePort();
      masterPort ||= port;
      const nodeDir = path.join(dir, `node-${port}`);
      await mkdir(nodeDir);
      const configFile = path.join(nodeDir, "redis.conf");
      const settings = [
        `bind 127.0.0.1`,
        `port ${port}`,
        `dir ${nodeDir}`,
        `requirepass ${password}`,
        `masterauth ${password}`,
        `appendonly yes`,
        `save ""`,
        // A replica's first full sync starts at once, not 5 s later waiting for others (the default).
        `repl-diskless-sync-delay 0`,
        ...(role === "replica" ? [`replicaof 127.0.0.1 ${masterPort}`] : []),
      ];
      let child = await start(configFile, settings);
      const connect = (): Redis => quiet(new Redis({ host: "127.0.0.1", port, password, maxRetriesPerRequest: 1 }));
      nodes.push({
        port,
        connect,
        kill: async () => {
          const exited = new Promise((resolve) => child.once("exit", resolve));
          child.kill("SIGKILL");
          await exited;
        },
        restart: async () => {
          child = await start(configFile, undefined);
          await waitForPing(`redis://:${password}@127.0.0.1:${port}`);
        },
      });
      await waitForPing(`redis://:${password}@127.0.0.1:${port}`);
    }
    const replica = nodes[1]!.connect();
    await eventually(async () => ((await replica.info("replication")).includes("master_link_status:up") ? true : undefined), 20_000, "the replica to sync");
    replica.disconnect();
    const sentinels: Address[] = [];
    for (let i = 0; i < 3; i += 1) {
      const port = await freePort();
      const configFile = path.join(dir, `sentinel-${port}.conf`);
      const settings = [
        `bind 127.0.0.1`,
        `port ${port}`,
        `dir ${dir}`,
        `requirepass ${sentinelPassword}`,
        `sentinel sentinel-pass ${sentinelPassword}`,
        `sentinel monitor ${MASTER_NAME} 127.0.0.1 ${masterPort} 2`,
        `sentinel auth-pass ${MASTER_NAME} ${password}`,
        `sentinel down-after-milliseconds ${MASTER_NAME} 1000`,
        `sentinel failover-timeout ${MASTER_NAME} 10000`,
      ];
      // redis-sentinel is redis-server in Sentinel mode (Debian's redis-sentinel package starts just that).
      await start(configFile, settings, ["--sentinel"]);
      await waitForPing(`redis://:${sentinelPassword}@127.0.0.1:${port}`);
      sentinels.push({ host: "127.0.0.1", port });
    }
    const sentinelClient = (address: Address): Redis => quiet(new Redis({ ...address, password: sentinelPassword, maxRetriesPerRequest: 1 }));
    // A failover needs Sentinels that know the replica and each other (hello messages, every 2 s).
    for (const address of sentinels) {
      const client = sentinelClient(address);
      await eventually(async () => {
        const [replicas, others] = (await Promise.all([client.call("SENTINEL", "REPLICAS", MASTER_NAME), client.call("SENTINEL", "SENTINELS", MASTER_NAME)])) as [unknown[], unknown[]];
        return replicas.length === 1 && others.length === 2 ? true : undefined;
      }, 20_000, "the Sentinels to find the replica and each other");
      client.disconnect();
    }
    const master = async (): Promise<RedisNode> => {
      const client = sentinelClient(sentinels[0]!);
      try {
        const [, port] = (await client.call("SENTINEL", "GET-MASTER-ADDR-BY-NAME", MASTER_NAME)) as [string, string];
        return nodes.find((node) => node.port === Number(port))!;
      } finally {
        client.disconnect();
      }
    };
    return { target: { sentinels, name: MASTER_NAME, password, sentinelPassword }, nodes, master, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
