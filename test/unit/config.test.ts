import { describe, expect, it } from "vitest";
import { configFromEnv } from "../../gateway/config.js";

describe("Hearth's settings", () => {
  it("gives functions no network but the ones the operator lists", () => {
    expect(configFromEnv({}).containerNetworks).toEqual([]);
    expect(configFromEnv({ HEARTH_CONTAINER_NETWORKS: "egress,host" }).containerNetworks).toEqual(["egress", "host"]);
    expect(() => configFromEnv({ HEARTH_CONTAINER_NETWORKS: "egress,,host" })).toThrow(/HEARTH_CONTAINER_NETWORKS/);
    expect(() => configFromEnv({ HEARTH_CONTAINER_NETWORKS: "bad name" })).toThrow(/HEARTH_CONTAINER_NETWORKS/);
  });
});
