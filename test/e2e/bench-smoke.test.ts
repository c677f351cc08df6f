// The benchmark harness in its smoke mode (tiny counts, seconds): every section runs and reports
// numbers, in the table and in the JSON. It asserts the shape of the report, never a speed.

import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { listContainers } from "../support/hearth.js";

let dir: string | undefined;

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

const isNumber = (value: unknown): boolean => typeof value === "number" && Number.isFinite(value);

function expectSummary(summary: Record<string, unknown> | undefined): void {
  expect(summary).toBeDefined();
  for (const key of ["p50", "p90", "p99"]) expect(isNumber(summary![key]), `${key} of ${JSON.stringify(summary)}`).toBe(true);
}

describe("npm run bench -- --smoke", () => {
  it("runs every section and reports each with numbers, as a table and as JSON", async () => {
    expect(existsSync("dist/bench/main.cjs"), "dist/bench/main.cjs is missing: run scripts/test.sh (it builds)").toBe(true);
    dir = await mkdtemp(path.join(os.tmpdir(), "hearth-bench-smoke-"));
    const out = path.join(dir, "smoke.json");
    const child = spawn(process.execPath, ["dist/bench/main.cjs", "--smoke", "--out", out], { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
    expect(code, stderr).toBe(0);

    const result = JSON.parse(await readFile(out, "utf8"));
    expect(result.errors).toEqual([]);
    expect(result.meta).toMatchObject({ mode: "smoke", cpus: expect.any(Number), node: expect.any(String), redis: expect.any(String) });

    expect(result.warm.levels.length).toBeGreaterThanOrEqual(2);
    for (const level of result.warm.levels) {
      expectSummary(level.direct.latencyMs);
      expectSummary(level.hearth.latencyMs);
      for (const p of ["p50", "p90", "p99"]) expect(isNumber(level.overhead[p].diffMs) && isNumber(level.overhead[p].ratio)).toBe(true);
      expect(level.hearth.statuses).toEqual({ "200": level.hearth.requests });
    }

    expect(result.throughput.runs.filter((run: { target: string }) => run.target === "hearth").map((run: { containers: number }) => run.containers)).toEqual([1, 2, 4]);
    for (const run of result.throughput.runs) {
      expect(run.ratePerSec).toBeGreaterThan(0);
      expectSummary(run.latencyMs);
    }

    expect(result.cold.samples).toBeGreaterThanOrEqual(1);
    expectSummary(result.cold.totalMs);
    for (const phase of ["schedule", "create", "start", "adapterReady", "codeLoaded", "handlerDone"]) expectSummary(result.cold.phasesMs[phase]);
    expectSummary(result.cold.floor.totalMs);
    expectSummary(result.cold.big.totalMs);
    expect(result.cold.big.packageBytes).toBeGreaterThan(20 * 1024 * 1024);
    expect(isNumber(result.cold.big.first.totalMs)).toBe(true);
    for (const ratio of [result.cold.bigOverTiny, result.cold.tinyOverFloor]) expect(isNumber(ratio.p50) && isNumber(ratio.p99)).toBe(true);

    expect(result.async.accept.statuses).toEqual({ "202": result.async.accept.requests });
    expect(result.async.drain.ratePerSec).toBeGreaterThan(0);
    expect(result.async.drain.cpu.gatewayUs).toBeGreaterThan(0);

    const { idleContainer, inFlight } = result.footprint;
    expect(idleContainer.containers).toBeGreaterThan(0);
    expectSummary(idleContainer.workingSetMiB);
    expect(inFlight.gatewayRssMiB.inFlight).toBeGreaterThan(0);
    expect(inFlight.redisConnections.gatewayInFlight).toBeGreaterThan(0);
    expect(inFlight.answered).toEqual({ "200": inFlight.requests });

    expect(result.bullmq.runs.map((run: { concurrency: number }) => run.concurrency)).toEqual(result.warm.levels.map((level: { concurrency: number }) => level.concurrency));
    for (const run of result.bullmq.runs) {
      expect(run.statuses).toEqual({ "200": run.requests });
      expect(run.ratePerSec).toBeGreaterThan(0);
      expectSummary(run.latencyMs);
    }
    expect(stdout).toContain("BullMQ peer");

    const scaleDown = result.scaleDown;
    expect(scaleDown.statuses).toEqual({ "200": scaleDown.requests });
    expect(scaleDown.perContainer.reduce((a: number, b: number) => a + b, 0)).toBe(scaleDown.requests);
    expect(scaleDown.containersAtStart).toBeGreaterThan(0);
    for (const count of [scaleDown.containersAtLoadEnd, scaleDown.containersAfterKeepAlive]) expect(isNumber(count)).toBe(true);

    // Every target of the issues, each BullMQ concurrency's comparison among them.
    expect(result.targets).toHaveLength(10 + result.bullmq.runs.length);
    expect(result.targets.map((check: { name: string }) => check.name)).toContain("scale-down: containers serving a light steady load, and left a keep-alive later");
    for (const section of ["1 warm c=1", "2 throughput", "3 cold start", "4 async", "5 footprint", "6 scale-down", "targets"]) expect(stdout).toContain(`| ${section}`);
    expect(result.table).toContain("| 1 warm c=1");

    // Everything it started is gone: no container of a bench invoker is left.
    expect(await listContainers(result.meta.invokerId)).toHaveLength(0);
  }, 180_000);
});
