// The three-master Redis Cluster harness (test/support/redis-cluster.ts) that the cluster tests stand
// on: every slot served, keys routed by their hash tag, a command spanning slots refused, and the
// masters gone after stop().

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
});
