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
