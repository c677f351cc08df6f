// Hearth on a Redis Cluster whose slots are moved while functions run (a resharding, as
// `redis-cli --cluster reshard` or `rebalance` makes), between its masters or to a master added to the
// cluster: the invoker rewrites its containers' map of sockets, so a moved function is served again from
// its new master (its warm container, cut off by MOVED, replaced once), and the containers of functions
// that did not move keep their connections.

import { readFile } from "node:fs/promises";
import path from "node:path";
import calculateSlot from "cluster-key-slot";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { functionKeys } from "../../gateway/protocol/keys.js";
import { SLOTS_MAP_FILE, type SlotsMap } from "../../gateway/redis/cluster-sockets.js";
import { probeHandler } from "../support/functions.js";
import { deploy, eventually, functionsIn, invoke, startTestHearthOnCluster, type ClusterTestHearth } from "../support/hearth.js";
import { startRedisCluster, type RedisCluster } from "../support/redis-cluster.js";

let cluster: RedisCluster;
let hearth: ClusterTestHearth;

beforeAll(async () => {
  cluster = await startRedisCluster();
  // The test cluster has no replicas to confirm an async accept on.
  hearth = await startTestHearthOnCluster(cluster, { asyncReplicas: { count: 0, timeoutMs: 1_000 }, invokerHeartbeatMs: 1_000 });
}, 60_000);

afterAll(async () => {
  try {
    await hearth?.stop();
  } finally {
    await cluster?.stop();
  }
});

/** The socket file the invoker's map names for `slot`. */
async function socketFor(slot: number): Promise<string> {
  const map = JSON.parse(await readFile(path.join(hearth.socketsDir, SLOTS_MAP_FILE), "utf8")) as SlotsMap;
  return map.find(([first, last]) => first <= slot && slot <= last)![2];
}

describe("Hearth on a Redis Cluster, through a resharding", () => {
  it("serves a function whose slot moved to another master from there, and keeps the other functions' containers connected", async () => {
    const [moved, stays] = functionsIn(cluster, 0, 2) as [string, string];
    for (const fn of [moved, stays]) expect((await deploy(hearth.url, fn, { runtime: "node", keepAlive: 60 }, { "index.js": probeHandler() })).status).toBe(201);
    const before = new Map<string, string>();
    for (const fn of [moved, stays]) {
      const answer = await invoke(hearth.url, fn, { echo: "before" });
      expect(answer.status, answer.text).toBe(200);
      before.set(fn, answer.body.container);
    }
    const movedSlot = calculateSlot(functionKeys(moved).def);
    const oldSocket = await socketFor(movedSlot);

    // The first master's first slot too: its socket must keep its name (and its containers' connections).
    await cluster.moveSlot(cluster.nodes[0]!.slots[0], cluster.nodes[1]!);
    await cluster.moveSlot(movedSlot, cluster.nodes[1]!);

    // Before: the map kept naming the old master's socket, and every new container of the moved
    // function met MOVED and exited.
    await eventually(async () => ((await socketFor(movedSlot)) === (await socketFor(cluster.nodes[1]!.slots[1])) ? true : undefined), 5_000, "the map to name the new master's socket for the moved slot");
    await eventually(async () => ((await invoke(hearth.url, moved, { echo: "after" })).status === 200 ? true : undefined), 30_000, "the moved function to answer again");
    for (let i = 0; i < 3; i += 1) {
      const answer = await invoke(hearth.url, moved, { echo: `again ${i}` });
      expect(answer.status, answer.text).toBe(200);
      expect(answer.body.container).not.toBe(before.get(moved));
    }
    // The function that stayed: the same warm container, through a socket that kept its name.
    expect(await socketFor(calculateSlot(functionKeys(stays).def))).toBe(oldSocket);
    const stayed = await invoke(hearth.url, stays, { echo: "after" });
    expect(stayed.status, stayed.text).toBe(200);
    expect(stayed.body.container).toBe(before.get(stays));
  }, 90_000);

  it("serves a function whose slot moved to a master added to the cluster, once that master has the containers' users", async () => {
    const [fn] = functionsIn(cluster, 2) as [string];
    expect((await deploy(hearth.url, fn, { runtime: "node", keepAlive: 60 }, { "index.js": probeHandler() })).status).toBe(201);
    const before = await invoke(hearth.url, fn, { echo: "before" });
    expect(before.status, before.text).toBe(200);
    const added = await cluster.addMaster();
    await cluster.moveSlot(calculateSlot(functionKeys(fn).def), added);
    await eventually(async () => ((await invoke(hearth.url, fn, { echo: "after" })).status === 200 ? true : undefined), 30_000, "the function to answer from the added master");
    for (let i = 0; i < 3; i += 1) {
      const answer = await invoke(hearth.url, fn, { echo: `again ${i}` });
      expect(answer.status, answer.text).toBe(200);
      expect(answer.body.container).not.toBe(before.body.container);
    }
    // Its keys are on the added master now, and its containers reach it through a socket of its own.
    const direct = added.connect();
    try {
      expect(await direct.exists(functionKeys(fn).def)).toBe(1);
    } finally {
      direct.disconnect();
    }
    expect(await socketFor(calculateSlot(functionKeys(fn).def))).toMatch(/^slots-\d+(-\d+)?\.sock$/);
    expect(new Set((JSON.parse(await readFile(path.join(hearth.socketsDir, SLOTS_MAP_FILE), "utf8")) as SlotsMap).map(([, , file]) => file)).size).toBe(4);
  }, 90_000);
});
