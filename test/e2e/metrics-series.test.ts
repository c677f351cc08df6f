// Series by function exist only for functions that exist, on a real redis-server and Docker: requests
// for made-up names add none, and a deleted function's go from every process's /metrics.

import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { request } from "../support/async.js";
import { probeHandler } from "../support/functions.js";
import { deploy, eventually, invoke, startTestHearth, useTestHearth } from "../support/hearth.js";

const h = useTestHearth();

/** The lines of /metrics that carry a function label. */
async function seriesByFunction(url: string): Promise<string[]> {
  const text = await (await fetch(`${url}/metrics`)).text();
  return text.split("\n").filter((line) => !line.startsWith("#") && line.includes('function="'));
}

describe("metrics series by function", () => {
  it("adds no series for requests to functions that do not exist", async () => {
    await deploy(h.url, "real", { runtime: "node" }, { "index.js": probeHandler() });
    expect((await invoke(h.url, "real")).status).toBe(200);
    const before = await seriesByFunction(h.url);
    expect(before.some((line) => line.startsWith('hearth_invocation_duration_seconds_count{function="real",status="200"}'))).toBe(true);

    const madeUp = Array.from({ length: 6 }, () => `made-up-${randomBytes(6).toString("hex")}`);
    for (const name of madeUp) expect((await invoke(h.url, name)).status).toBe(404);
    const after = await seriesByFunction(h.url);
    expect(after.filter((line) => madeUp.some((name) => line.includes(name)))).toEqual([]);
    expect(after.length).toBe(before.length);
  });

  it("drops a deleted function's series, every label of them, in every process", async () => {
    const other = await startTestHearth(h.redis, { roles: { api: true, invoker: false } });
    try {
      await deploy(h.url, "doomed", { runtime: "node" }, { "index.js": probeHandler() });
      expect((await invoke(h.url, "doomed")).status).toBe(200);
      expect((await invoke(h.url, "doomed", { fail: "once" })).status).toBe(502);
      expect((await invoke(other.url, "doomed")).status).toBe(200);
      const ofDoomed = async (url: string) => (await seriesByFunction(url)).filter((line) => line.includes('function="doomed"'));
      const series = (await ofDoomed(h.url)).map((line) => line.split(" ")[0]!);
      for (const expected of [
        'hearth_invocation_duration_seconds_count{function="doomed",status="200"}',
        'hearth_invocation_duration_seconds_count{function="doomed",status="502"}',
        'hearth_cold_starts_total{function="doomed"}',
        'hearth_cold_start_duration_seconds_count{function="doomed"}',
        'hearth_invocations_total{function="doomed",outcome="success"}',
        'hearth_invocations_total{function="doomed",outcome="function_error"}',
        'hearth_execution_duration_seconds_count{function="doomed",start="cold"}',
        'hearth_queue_wait_seconds_count{function="doomed",start="warm"}',
        'hearth_async_invocations_total{function="doomed",outcome="success"}',
      ]) {
        expect(series).toContain(expected);
      }
      // Container usage is read at most once a second: the scrape before may have read it without doomed's container.
      const usage = ['hearth_container_cpu_seconds_total{function="doomed"}', 'hearth_container_memory_bytes{function="doomed"}'];
      await eventually(async () => {
        const current = (await ofDoomed(h.url)).map((line) => line.split(" ")[0]!);
        return usage.every((name) => current.includes(name)) ? true : undefined;
      }, 10_000, "doomed's container usage");
      expect((await ofDoomed(other.url)).length).toBeGreaterThan(0);

      expect((await request(h.url, "DELETE", "/system/functions/doomed")).status).toBe(204);
      for (const url of [h.url, other.url]) {
        await eventually(async () => ((await ofDoomed(url)).length === 0 ? true : undefined), 10_000, `the series of doomed to go from ${url}`);
      }
      // The others stay.
      expect((await seriesByFunction(h.url)).some((line) => line.includes('function="real"'))).toBe(true);
    } finally {
      await other.stop();
    }
  });
});
