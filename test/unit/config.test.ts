import { describe, expect, it } from "vitest";
import { configFromEnv } from "../../gateway/config.js";

describe("Hearth's settings", () => {
  it("gives functions no network but the ones the operator lists", () => {
    expect(configFromEnv({}).containerNetworks).toEqual([]);
    expect(configFromEnv({ HEARTH_CONTAINER_NETWORKS: "egress,host" }).containerNetworks).toEqual(["egress", "host"]);
    expect(() => configFromEnv({ HEARTH_CONTAINER_NETWORKS: "egress,,host" })).toThrow(/HEARTH_CONTAINER_NETWORKS/);
    expect(() => configFromEnv({ HEARTH_CONTAINER_NETWORKS: "bad name" })).toThrow(/HEARTH_CONTAINER_NETWORKS/);
  });

  it("keeps a stem cell per runtime but custom by default, the counts given, or none", () => {
    expect(configFromEnv({}).stemCells).toEqual({ node: 1, python: 1, go: 1, custom: 0 });
    expect(configFromEnv({ HEARTH_STEM_CELLS: "node=2,python=1" }).stemCells).toEqual({ node: 2, python: 1, go: 0, custom: 0 });
    expect(configFromEnv({ HEARTH_STEM_CELLS: "" }).stemCells).toEqual({ node: 0, python: 0, go: 0, custom: 0 });
    expect(() => configFromEnv({ HEARTH_STEM_CELLS: "ruby=1" })).toThrow(/HEARTH_STEM_CELLS/);
    expect(() => configFromEnv({ HEARTH_STEM_CELLS: "node=-1" })).toThrow(/HEARTH_STEM_CELLS/);
    expect(() => configFromEnv({ HEARTH_STEM_CELLS: "node" })).toThrow(/HEARTH_STEM_CELLS/);
  });
});
