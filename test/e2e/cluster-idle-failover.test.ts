// Hearth on a Redis Cluster when a master fails over while nothing Hearth sends goes to its slots: it
// follows the promoted replica anyway (it reads the map of slots every second, not only at a MOVED),
// so its containers' socket for those slots reaches the new master and a function there is answered.
// And when the cluster is down altogether, stopping Hearth still removes its containers.

import net from "node:net";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FUNCTIONS_INDEX, INVOKER_BEATS, invokerAliveKey } from "../../gateway/protocol/keys.js";
import { SLOTS_MAP_FILE, type SlotsMap } from "../../gateway/redis/cluster-sockets.js";
import { probeHandler } from "../support/functions.js";
import { deploy, eventually, functionsIn, invoke, listContainers, startTestHearthOnCluster, type ClusterTestHearth } from "../support/hearth.js";
import { startRedisCluster, type RedisCluster } from "../support/redis-cluster.js";

let cluster: RedisCluster;
let hearth: ClusterTestHearth;
/** The slot range whose master fails over: none of the keys an idle Hearth touches is in it. */
let idleRange: number;

beforeAll(async () => {
  cluster = await startRedisCluster({ replicas: true });
  // An idle invoker's heartbeat reads and writes these; a range holding one would be followed anyway (MOVED).
  const busy = new Set([FUNCTIONS_INDEX, INVOKER_BEATS].map((key) => cluster.rangeOf(key)));
  idleRange = cluster.nodes.findIndex((_, range) => !busy.has(range));
  let invokerId = "";
  for (let i = 0; !invokerId; i += 1) if (cluster.rangeOf(invokerAliveKey(`idle-${i}`)) !== idleRange) invokerId = `idle-${i}`;
  hearth = await startTestHearthOnCluster(cluster, { invokerId, asyncReplicas: { count: 0, timeoutMs: 1_000 }, invokerHeartbeatMs: 1_000 });
}, 60_000);

afterAll(async () => {
  try {
    await hearth?.stop();
  } finally {
    await cluster?.stop();
  }
});

/** The path of the containers' socket for slot range `range`, as the invoker's map names it. */
async function socketOf(range: number): Promise<string> {
  const map = JSON.parse(await readFile(path.join(hearth.socketsDir, SLOTS_MAP_FILE), "utf8")) as SlotsMap;
  return path.join(hearth.socketsDir, map.find(([first]) => first === cluster.nodes[range]!.slots[0])![2]);
}

/** What a connection to a socket hears to a PING: a live Redis asks for a login first. */
async function ping(socketPath: string): Promise<string> {
  return new Promise((resolve) => {
    const socket = net.createConnection(socketPath);
    let heard = "";
    const done = (answer: string): void => {
      socket.destroy();
      resolve(answer);
    };
    socket.on("data", (data) => {
      heard += data.toString();
      if (heard.includes("\r\n")) done(heard.trim());
    });
    socket.on("error", (error) => done(`error ${error.message}`));
    socket.on("close", () => done("closed"));
    socket.setTimeout(2_000, () => done("no answer"));
    socket.write("PING\r\n");
  });
}

describe("Hearth on a Redis Cluster, idle through a failover", () => {
  it("follows a master's failover it sent nothing into: its containers' socket reaches the promoted replica, and a function there is answered", async () => {
    expect(await ping(await socketOf(idleRange))).toMatch(/^-NOAUTH/);
    await cluster.killMaster(idleRange);
    // Before: the socket kept forwarding to the dead master ("closed") until a request met a MOVED.
    await eventually(async () => (/^-NOAUTH/.test(await ping(await socketOf(idleRange))) ? true : undefined), 5_000, "the socket to reach the promoted replica");
    const [fn] = functionsIn(cluster, idleRange) as [string];
    expect((await deploy(hearth.url, fn, { runtime: "node", keepAlive: 60 }, { "index.js": probeHandler() })).status).toBe(201);
    const answer = await invoke(hearth.url, fn, { echo: "after the failover" });
    expect(answer.status, answer.text).toBe(200);
    expect(answer.body).toMatchObject({ echo: "after the failover" });
  }, 60_000);

  it("stops completely while the cluster is down (no replica left to take over): containers removed, sockets closed", async () => {
    const socket = await socketOf((idleRange + 1) % cluster.nodes.length);
    await cluster.killLastCopy(idleRange);
    // Before: the invoker's last Redis step of stopping (CLUSTERDOWN) rejected, and the steps after it
    // (its containers' sockets, its Redis connections) never ran.
    await hearth.hearth.stop();
    // Docker removes an exited one on its own (AutoRemove): one that exited as its Redis went may still be listed.
    await eventually(async () => ((await listContainers(hearth.invokerId)).length === 0 ? true : undefined), 10_000, "no container of this Hearth's left");
    expect(await ping(socket)).toMatch(/^error connect (ENOENT|ECONNREFUSED)/);
  }, 60_000);
});
