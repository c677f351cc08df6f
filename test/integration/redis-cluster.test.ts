// The three-master Redis Cluster harness (test/support/redis-cluster.ts) that the cluster tests stand
// on: every slot served, keys routed by their hash tag, a command spanning slots refused, a replica per
// master taking over when its master is killed, and the nodes gone after stop().

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import calculateSlot from "cluster-key-slot";
import { startRedisCluster, type RedisCluster } from "../support/redis-cluster.js";

let cluster: RedisCluster;

beforeAll(async () => {
  cluster = await startRedisCluster();
});

afterAll(async () => {
  await cluster?.stop();
});

describe("the Redis Cluster harness", () => {
  it("serves every slot from three masters that know each other", async () => {
    for (const node of cluster.nodes) {
      const client = node.connect();
      const info = (await client.call("CLUSTER", "INFO")) as string;
      expect(info).toContain("cluster_state:ok");
      expect(info).toContain("cluster_slots_assigned:16384");
      expect(info).toContain("cluster_known_nodes:3");
      client.disconnect();
    }
  });

  it("keeps a hash tag's keys on the master of its slot, and refuses a command across slots", async () => {
    const client = cluster.connect();
    try {
      await client.set("hearth:{orders}:def", "a");
      await client.set("hearth:{refunds}:def", "b");
      expect(await client.mget("hearth:{orders}:def", "hearth:{orders}:missing")).toEqual(["a", null]);
      await expect(client.mget("hearth:{orders}:def", "hearth:{refunds}:def")).rejects.toThrow(/CROSSSLOT/);
      const slot = calculateSlot("hearth:{orders}:def");
      const owner = cluster.nodes.find((node) => node.slots[0] <= slot && slot <= node.slots[1])!;
      const direct = owner.connect();
      expect(await direct.get("hearth:{orders}:def")).toBe("a");
      direct.disconnect();
      const other = cluster.nodes.find((node) => node !== owner)!.connect();
      await expect(other.get("hearth:{orders}:def")).rejects.toThrow(/MOVED/);
      other.disconnect();
    } finally {
      client.disconnect();
    }
  });

  it("ends its masters on stop()", async () => {
    const separate = await startRedisCluster();
    const client = separate.nodes[0]!.connect();
    expect(await client.ping()).toBe("PONG");
    client.disconnect();
    await separate.stop();
    const after = separate.nodes[0]!.connect();
    await expect(after.ping()).rejects.toThrow();
    after.disconnect();
  });

  it("fails a killed master over to its replica, which has the master's writes", async () => {
    const replicated = await startRedisCluster({ replicas: true });
    const client = replicated.connect();
    try {
      expect(replicated.replicas).toHaveLength(3);
      const key = "hearth:{orders}:def";
      const range = replicated.rangeOf(key);
      await client.set(key, "kept");
      // The write is on the replica before the master goes (as HEARTH_ASYNC_REPLICAS' WAIT makes sure).
      const master = (await replicated.masterOf(key)).connect();
      expect(await master.wait(1, 1_000)).toBe(1);
      master.disconnect();
      const started = Date.now();
      const { killed, promoted } = await replicated.killMaster(range);
      console.log(`cluster failover: replica serving within ${Date.now() - started} ms`);
      expect(killed.port).toBe(replicated.nodes[range]!.port);
      expect(promoted.port).toBe(replicated.replicas[range]!.port);
      expect((await replicated.masterOf(key)).port).toBe(promoted.port);
      const direct = promoted.connect();
      expect(await direct.get(key)).toBe("kept");
      direct.disconnect();
    } finally {
      client.disconnect();
      await replicated.stop();
    }
  }, 60_000);
});
