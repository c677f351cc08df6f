// Hearth on a three-master Redis Cluster with real function containers: they have no network and reach
// each master through their invoker's sockets, as their own Redis users. A function on each master
// answers sync calls (cold, through a stem cell or a fresh container, then warm) and an async one,
// whichever master the gateway's reply list is on: at least two of the three are on another.

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { finalRecord, invokeAsync } from "../support/async.js";
import { probeHandler } from "../support/functions.js";
import { deploy, functionsIn, invoke, startTestHearthOnCluster, type ClusterTestHearth } from "../support/hearth.js";
import { startRedisCluster, type RedisCluster } from "../support/redis-cluster.js";

let cluster: RedisCluster;
let hearth: ClusterTestHearth;

beforeAll(async () => {
  cluster = await startRedisCluster();
  // The test cluster has no replicas to confirm an async accept on; one stem cell, for the hand-over across masters.
  hearth = await startTestHearthOnCluster(cluster, { asyncReplicas: { count: 0, timeoutMs: 1_000 }, stemCells: { node: 1, python: 0, go: 0, custom: 0 } });
}, 60_000);

afterAll(async () => {
  try {
    await hearth?.stop();
  } finally {
    await cluster?.stop();
  }
});

describe("Hearth on a Redis Cluster", () => {
  it("runs functions on every master in containers that reach Redis only through the invoker's sockets", async () => {
    const functions = cluster.nodes.map((_, index) => functionsIn(cluster, index)[0]!);
    for (const fn of functions) expect((await deploy(hearth.url, fn, { runtime: "node", keepAlive: 60 }, { "index.js": probeHandler() })).status).toBe(201);
    for (const fn of functions) {
      const cold = await invoke(hearth.url, fn, { echo: `${fn}-cold` });
      expect(cold.status, cold.text).toBe(200);
      expect(cold.body).toMatchObject({ echo: `${fn}-cold`, count: 1 });
      const warm = await invoke(hearth.url, fn, { echo: `${fn}-warm` });
      expect(warm.status, warm.text).toBe(200);
      // The same container, warm.
      expect(warm.body).toMatchObject({ echo: `${fn}-warm`, count: 2, container: cold.body.container });
    }
    const accepted = await invokeAsync(hearth.url, functions[2]!, { echo: "async" });
    expect(accepted.status).toBe(202);
    const record = await finalRecord(hearth.url, accepted.body.id);
    expect(record).toMatchObject({ status: "succeeded", result: { echo: "async" } });
  }, 120_000);

  it("keeps the invoker's sockets and their map out of a hostile function's reach (only the adapter, root, enters /run/hearth)", async () => {
    const prying = `
const fs = require("node:fs");
const net = require("node:net");
const attempt = (f) => { try { return f(); } catch (e) { return "error " + e.code; } };
const connect = (path) => new Promise((resolve) => {
  const socket = net.connect({ path });
  socket.once("connect", () => { socket.destroy(); resolve("connected"); });
  socket.once("error", (e) => resolve("error " + e.code));
});
exports.handler = async () => ({
  uid: process.getuid(),
  dir: attempt(() => fs.readdirSync("/run/hearth/redis")),
  map: attempt(() => fs.readFileSync("/run/hearth/redis/slots.json", "utf8")),
  socket: await connect("/run/hearth/redis/slots-0.sock"),
});`;
    expect((await deploy(hearth.url, "prying", { runtime: "node" }, { "index.js": prying })).status).toBe(201);
    const result = await invoke(hearth.url, "prying");
    expect(result.status, result.text).toBe(200);
    expect(result.body).toEqual({ uid: 10001, dir: "error EACCES", map: "error EACCES", socket: "error EACCES" });
  }, 60_000);
});
