// Which warm container takes a request, on a real Docker engine: the most recently used one, so a light
// load stays on one container and the rest retire after their keep-alive.

import { describe, expect, it } from "vitest";
import { LABELS } from "../../gateway/invoker/docker-backend.js";
import { probeHandler } from "../support/functions.js";
import { adminHeaders, deploy, docker, eventually, invoke, listContainers, useTestHearth } from "../support/hearth.js";

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

  it("still spreads concurrent work over several warm containers", async () => {
    await deploy(h.url, "spread", { runtime: "node", keepAlive: 30, maxContainers: 3 }, { "index.js": probeHandler() });
    // Three queued at once with no container: three are started (the first up may serve two of them).
    const first = await Promise.all(Array.from({ length: 3 }, () => invoke(h.url, "spread", { sleepMs: 1_000 })));
    expect(first.every((result) => result.status === 200)).toBe(true);
    const warm = await eventually(async () => {
      const status = (await (await fetch(`${h.url}/system/functions/spread`, { headers: adminHeaders })).json()) as { containers: { idle: number } };
      return status.containers.idle === 3 ? true : undefined;
    }, 20_000, "three idle containers");
    expect(warm).toBe(true);
    // Three at once again: each warm container takes one, and none is started.
    const again = await Promise.all(Array.from({ length: 3 }, () => invoke(h.url, "spread", { sleepMs: 1_000 })));
    expect(new Set(again.map((result) => result.body.container)).size).toBe(3);
    expect(await listContainers(h.invokerId, "spread")).toHaveLength(3);
  });

  it("keeps minWarm containers without any load: started at the deploy, kept past their keep-alive, replaced when killed", async () => {
    await deploy(h.url, "provisioned", { runtime: "node", keepAlive: 1, minWarm: 2, maxContainers: 4 }, { "index.js": probeHandler() });
    const warm = async (count: number, what: string) =>
      eventually(async () => {
        const listed = (await listContainers(h.invokerId, "provisioned")).filter((info) => info.State === "running");
        return listed.length === count ? listed : undefined;
      }, 30_000, what);
    const started = await warm(2, "two containers started with no request");
    await sleep(2_500); // past the keep-alive
    expect((await listContainers(h.invokerId, "provisioned")).map((info) => info.Id).sort()).toEqual(started.map((info) => info.Id).sort());

    // The first request finds a warm container: it is served by one of them, none is started for it.
    const first = await invoke(h.url, "provisioned");
    expect(first.status).toBe(200);
    expect(started.map((info) => info.Labels[LABELS.container]).some((id) => first.body.container.includes(id))).toBe(true);
    // Not a cold start: its history entry says so (it came after the container's init was over).
    const history = await eventually(async () => {
      const { invocations } = (await (await fetch(`${h.url}/system/functions/provisioned/invocations`, { headers: adminHeaders })).json()) as { invocations: Array<{ id: string; cold: boolean }> };
      return invocations.find((entry) => entry.id === first.headers.get("x-call-id"));
    }, 10_000, "the first request's history entry");
    expect(history.cold).toBe(false);

    await docker.getContainer(started[0]!.Id).kill();
    const replaced = await warm(2, "the killed container replaced");
    expect(replaced.map((info) => info.Id)).not.toContain(started[0]!.Id);

    // Without minWarm, the idle containers retire.
    await deploy(h.url, "provisioned", { runtime: "node", keepAlive: 1, maxContainers: 4 }, { "index.js": probeHandler() });
    await eventually(async () => ((await listContainers(h.invokerId, "provisioned")).length === 0 ? true : undefined), 20_000, "the containers to retire");
  });
});
