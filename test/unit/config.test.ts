import path from "node:path";
import { describe, expect, it } from "vitest";
import { configFromEnv } from "../../gateway/config.js";

describe("Hearth's settings", () => {
  it("gives functions no network but the ones the operator lists", () => {
    expect(configFromEnv({}).containerNetworks).toEqual([]);
    expect(configFromEnv({ HEARTH_CONTAINER_NETWORKS: "egress,host" }).containerNetworks).toEqual(["egress", "host"]);
    expect(() => configFromEnv({ HEARTH_CONTAINER_NETWORKS: "egress,,host" })).toThrow(/HEARTH_CONTAINER_NETWORKS/);
    expect(() => configFromEnv({ HEARTH_CONTAINER_NETWORKS: "bad name" })).toThrow(/HEARTH_CONTAINER_NETWORKS/);
  });

  it("keeps the code cache at an absolute path (Docker mounts host paths only), in the data folder unless told", () => {
    expect(configFromEnv({}).codeCache).toEqual({ directory: path.resolve(".hearth/code-cache"), maxBytes: 2048 * 1024 * 1024 });
    expect(configFromEnv({ HEARTH_DATA_DIR: "/srv/hearth" }).codeCache.directory).toBe("/srv/hearth/code-cache");
    expect(configFromEnv({ HEARTH_CODE_CACHE_DIR: "cache", HEARTH_CODE_CACHE_MB: "64" }).codeCache).toEqual({ directory: path.resolve("cache"), maxBytes: 64 * 1024 * 1024 });
    expect(() => configFromEnv({ HEARTH_CODE_CACHE_MB: "0" })).toThrow(/HEARTH_CODE_CACHE_MB/);
  });
});

describe("Redis behind Sentinel", () => {
  const sentinel = { REDIS_SENTINELS: "10.0.0.1:26379,sentinel-b:26380", REDIS_SENTINEL_MASTER: "hearth", REDIS_PASSWORD: "p", REDIS_SENTINEL_PASSWORD: "s" };

  it("reads the Sentinels, the master's name and both passwords, and waits for one replica by default", () => {
    const config = configFromEnv(sentinel);
    expect(config.redis).toEqual({
      sentinel: {
        sentinels: [
          { host: "10.0.0.1", port: 26379 },
          { host: "sentinel-b", port: 26380 },
        ],
        name: "hearth",
        password: "p",
        sentinelPassword: "s",
      },
    });
    expect(config.asyncReplicas).toEqual({ count: 1, timeoutMs: 1_000 });
    expect(configFromEnv({ ...sentinel, HEARTH_ASYNC_REPLICAS: "0" }).asyncReplicas.count).toBe(0);
    expect(configFromEnv({ REDIS_URL: "redis://r:6379" }).asyncReplicas.count).toBe(0);
  });

  it("refuses settings that contradict each other", () => {
    expect(() => configFromEnv({ ...sentinel, REDIS_URL: "redis://r:6379" })).toThrow(/exclude each other/);
    expect(() => configFromEnv({ REDIS_SENTINELS: "s:26379" })).toThrow(/REDIS_SENTINEL_MASTER/);
    expect(() => configFromEnv({ REDIS_SENTINELS: "s" })).toThrow(/host:port/);
    expect(() => configFromEnv({ REDIS_PASSWORD: "p" })).toThrow(/go with REDIS_SENTINELS/);
    expect(() => configFromEnv({ ...sentinel, HEARTH_CONTAINER_REDIS_URL: "redis://r:6379" })).toThrow(/HEARTH_CONTAINER_REDIS_SOCKET/);
  });
});

describe("stem cells", () => {
  it("keeps a stem cell per runtime but custom by default, the counts given, or none", () => {
    expect(configFromEnv({}).stemCells).toEqual({ node: 1, python: 1, go: 1, custom: 0 });
    expect(configFromEnv({ HEARTH_STEM_CELLS: "node=2,python=1" }).stemCells).toEqual({ node: 2, python: 1, go: 0, custom: 0 });
    expect(configFromEnv({ HEARTH_STEM_CELLS: "" }).stemCells).toEqual({ node: 0, python: 0, go: 0, custom: 0 });
    expect(() => configFromEnv({ HEARTH_STEM_CELLS: "ruby=1" })).toThrow(/HEARTH_STEM_CELLS/);
    expect(() => configFromEnv({ HEARTH_STEM_CELLS: "node=-1" })).toThrow(/HEARTH_STEM_CELLS/);
    expect(() => configFromEnv({ HEARTH_STEM_CELLS: "node" })).toThrow(/HEARTH_STEM_CELLS/);
  });
});
