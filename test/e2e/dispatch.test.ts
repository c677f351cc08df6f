// Which warm container takes a request, on a real Docker engine: the most recently used one, so a light
// load stays on one container and the rest retire after their keep-alive.

import { describe, expect, it } from "vitest";
import { LABELS } from "../../gateway/invoker/docker-backend.js";
import { probeHandler } from "../support/functions.js";
import { deploy, eventually, invoke, listContainers, useTestHearth } from "../support/hearth.js";

const h = useTestHearth();

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe("dispatch", () => {
  it("serves a light steady load with one of four warm containers; the other three retire after their keep-alive", async () => {
    const keepAliveSeconds = 3;
    await deploy(h.url, "steady", { runtime: "node", keepAlive: keepAliveSeconds, maxContainers: 4 }, { "index.js": probeHandler() });
    // A burst of four slow requests warms four containers.
    const burst = await Promise.all(Array.from({ length: 4 }, () => invoke(h.url, "steady", { sleepMs: 1_500 })));
    expect(new Set(burst.map((result) => result.body.container)).size).toBe(4);

    // Then 10 requests a second for longer than the keep-alive.
    const servedBy: string[] = [];
    const until = Date.now() + (keepAliveSeconds + 2) * 1000;
    for (let i = 0; i < 100 && Date.now() < until; i += 1) {
      const result = await invoke(h.url, "steady", { echo: i });
      expect(result.status).toBe(200);
      servedBy.push(result.body.container);
      await sleep(100);
    }
    // The first request went to the container freed last; every later one came back to it.
    expect(new Set(servedBy).size).toBe(1);
    const [survivor] = servedBy;
    // The others, idle since the burst, are gone (or going) by now.
    const running = await eventually(async () => {
      const listed = await listContainers(h.invokerId, "steady");
      return listed.length === 1 ? listed : undefined;
    }, 10_000, "three of the four containers to retire");
    expect(survivor).toContain(running[0]!.Labels[LABELS.container]);
  });

  it("still spreads concurrent work over several containers", async () => {
    await deploy(h.url, "spread", { runtime: "node", keepAlive: 30, maxContainers: 3 }, { "index.js": probeHandler() });
    const results = await Promise.all(Array.from({ length: 3 }, () => invoke(h.url, "spread", { sleepMs: 1_000 })));
    expect(results.every((result) => result.status === 200)).toBe(true);
    expect(new Set(results.map((result) => result.body.container)).size).toBe(3);
    // Three at once again: the three warm containers take them, none is started.
    const again = await Promise.all(Array.from({ length: 3 }, () => invoke(h.url, "spread", { sleepMs: 500 })));
    expect(new Set(again.map((result) => result.body.container))).toEqual(new Set(results.map((result) => result.body.container)));
    await eventually(async () => ((await listContainers(h.invokerId, "spread")).length === 3 ? true : undefined), 5_000, "three containers");
  });
});
