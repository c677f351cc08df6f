// 8. Redis Cluster: the warm path of a Hearth on a three-master Redis Cluster (test/support/redis-cluster.ts)
// against the bench's own Hearth on one redis-server, in passes that alternate (one node, cluster, one
// node) so that the machine's drift shows in the two one-node passes. Each pass: sync latency at
// concurrency 1, then throughput at `concurrency` in flight, on a function with `containers` warm.
// On the cluster, two functions: one whose slot is on the master of the gateway's reply list (the
// adapter's finish and its RPUSH go in one pipeline) and one whose slot is on another master (the
// RPUSH follows once the finish script has answered: a round trip more; ARCHITECTURE.md, "Redis Cluster").

import path from "node:path";
import calculateSlot from "cluster-key-slot";
import type Docker from "dockerode";
import type { Redis } from "ioredis";
import { LABELS } from "../../gateway/invoker/docker-backend.js";
import { functionKeys } from "../../gateway/protocol/keys.js";
import { eventually } from "../../test/support/eventually.js";
import { startRedisCluster, type RedisCluster } from "../../test/support/redis-cluster.js";
import type { BenchOptions, Plan } from "../options.js";
import { loadRow, type ClusterResult, type ClusterRun } from "../results.js";
import { cpuPerRequest, cpuSnapshot, type HearthCpuParts } from "../services/cpu.js";
import { HearthApi } from "../services/hearth-api.js";
import { startHearthProcess } from "../services/hearth-process.js";
import type { Stack } from "../services/stack.js";

const ONE_NODE_FUNCTION = "noop-one-node";

/** A Hearth to load: its API, whose containers (by invoker id), whose CPU. */
interface Target {
  redis: ClusterRun["redis"];
  api: HearthApi;
  invokerId: string;
  cpu: HearthCpuParts;
}

export async function redisCluster(stack: Stack, options: BenchOptions, plan: Plan["cluster"], log: (line: string) => void): Promise<ClusterResult> {
  const settings = { maxContainers: plan.containers, keepAlive: 3600, timeout: 30, memory: 256 };
  const runs: ClusterRun[] = [];
  let pass = 0;
  const measure = async (target: Target, fn: string, placement?: ClusterRun["placement"]): Promise<void> => {
    await target.api.prewarm(fn, plan.containers);
    const dockerIds = await containerIds(stack.docker, target.invokerId, fn);
    const url = `${target.api.url}/function/${fn}`;
    for (const concurrency of [1, plan.concurrency]) {
      const count = concurrency === 1 ? plan.latencyCount : plan.throughputCount;
      const before = await cpuSnapshot(stack, dockerIds, target.cpu);
      const result = await stack.load.run({ url, concurrency, count, warmup: plan.warmup, maxDurationMs: plan.maxDurationMs });
      const after = await cpuSnapshot(stack, dockerIds, target.cpu);
      const row = loadRow([result]);
      runs.push({ pass, redis: target.redis, function: fn, placement, concurrency, containers: plan.containers, ...row, cpu: cpuPerRequest(before, after, row.requests, row.clientCpu.cores) });
      log(`cluster pass ${pass}, ${target.redis}, ${fn}, ${concurrency} in flight: p50 ${row.latencyMs.p50.toFixed(2)} ms, p99 ${row.latencyMs.p99.toFixed(2)} ms, ${row.ratePerSec.toFixed(0)}/s`);
    }
  };

  const oneNode: Target = { redis: "one node", api: stack.api, invokerId: stack.invokerId, cpu: { pid: stack.hearth.pid, redis: [stack.redis] } };
  await stack.api.deploy(ONE_NODE_FUNCTION, settings);
  try {
    const cluster = await startRedisCluster();
    const masters = cluster.nodes.map((node) => node.connect());
    try {
      const invokerId = `${stack.invokerId}-cluster`;
      const hearth = await startHearthProcess({
        redis: { clusterNodes: cluster.nodes.map(({ port }) => `127.0.0.1:${port}`).join(","), password: cluster.password },
        invokerId,
        nodeImage: options.image,
        entry: options.gateway,
        dataDir: path.join(stack.workDir, "hearth-cluster"),
        adminToken: stack.adminToken,
        // The harness's masters have no replicas to confirm an async accept on.
        env: { HEARTH_ASYNC_REPLICAS: "0" },
      });
      try {
        const replyMaster = await replyListMaster(masters);
        const other = (replyMaster + 1) % cluster.nodes.length;
        const functions = [
          { name: functionOn(cluster, replyMaster, "noop-same-"), placement: { functionMaster: replyMaster, replyMaster } },
          { name: functionOn(cluster, other, "noop-other-"), placement: { functionMaster: other, replyMaster } },
        ];
        log(`Redis Cluster up (ports ${cluster.nodes.map((node) => node.port).join(", ")}); the gateway's reply list is on master ${replyMaster}; functions ${functions.map((f) => `${f.name} on master ${f.placement.functionMaster}`).join(", ")}`);
        const onCluster: Target = { redis: "cluster", api: new HearthApi(hearth.url, stack.adminToken), invokerId, cpu: { pid: hearth.pid, redis: masters } };
        for (const fn of functions) await onCluster.api.deploy(fn.name, settings);

        pass = 1;
        await measure(oneNode, ONE_NODE_FUNCTION);
        pass = 2;
        for (const fn of functions) await measure(onCluster, fn.name, fn.placement);
        pass = 3;
        await measure(oneNode, ONE_NODE_FUNCTION);
        return { masters: cluster.nodes.map((node) => ({ port: node.port, slots: node.slots })), replyListMaster: replyMaster, runs };
      } finally {
        // SIGTERM: it removes its containers; whatever is left goes by its invoker's label.
        await hearth.stop();
        const left = await containerIds(stack.docker, invokerId);
        for (const id of left) await stack.docker.getContainer(id).remove({ force: true }).catch(() => undefined);
        if (left.length > 0) log(`removed ${left.length} container(s) the cluster's Hearth left behind`);
      }
    } finally {
      masters.forEach((master) => master.disconnect());
      await cluster.stop();
    }
  } finally {
    await stack.api.remove(ONE_NODE_FUNCTION);
    await stack.containers.waitGone(ONE_NODE_FUNCTION);
  }
}

/** Docker ids of an invoker's containers (of one function). */
async function containerIds(docker: Docker, invokerId: string, fn?: string): Promise<string[]> {
  const labels = [`${LABELS.invoker}=${invokerId}`, ...(fn ? [`${LABELS.function}=${fn}`] : [])];
  return (await docker.listContainers({ all: true, filters: { label: labels } })).map((info) => info.Id);
}

/**
 * The master (index) the gateway's reply list is on: the gateway's id is its own, so the list is found
 * by the one connection blocked on it (`BLMPOP`, named hearth-replies).
 */
async function replyListMaster(masters: Redis[]): Promise<number> {
  return eventually(
    async () => {
      for (const [index, master] of masters.entries()) {
        const clients = (await master.call("CLIENT", "LIST")) as string;
        if (clients.split("\n").some((line) => line.includes(" name=hearth-replies ") && line.includes(" cmd=blmpop "))) return index;
      }
      return undefined;
    },
    20_000,
    "the gateway's BLMPOP on its reply list",
  );
}

/** A function name (`prefix` + a number) whose slot is on master `index`. */
function functionOn(cluster: RedisCluster, index: number, prefix: string): string {
  const [first, last] = cluster.nodes[index]!.slots;
  for (let i = 0; ; i += 1) {
    const slot = calculateSlot(functionKeys(`${prefix}${i}`).def);
    if (slot >= first && slot <= last) return `${prefix}${i}`;
  }
}
