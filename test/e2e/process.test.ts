// Hearth as a user runs it: `node dist/hearth.cjs` with no REDIS_URL starts its own redis-server,
// serves, and on SIGTERM finishes, stops its containers and its redis-server.

import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { Redis } from "ioredis";
import { afterAll, describe, expect, it } from "vitest";
import { probeHandler } from "../support/functions.js";
import { deploy, invoke, listContainers } from "../support/hearth.js";

let child: ChildProcess | undefined;
let dataDir: string | undefined;

afterAll(async () => {
  if (child && child.exitCode === null) child.kill("SIGKILL");
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

describe("the hearth process", () => {
  it("runs on embedded defaults and shuts down cleanly on SIGTERM", async () => {
    expect(existsSync("dist/hearth.cjs"), "dist/hearth.cjs is missing: run scripts/test.sh (it builds)").toBe(true);
    dataDir = await mkdtemp(path.join(os.tmpdir(), "hearth-process-"));
    const invokerId = `test-process-${Date.now()}`;
    const env: NodeJS.ProcessEnv = { ...process.env, PORT: "0", HEARTH_DATA_DIR: dataDir, HEARTH_INVOKER_ID: invokerId, LOG_LEVEL: "info" };
    delete env.REDIS_URL;
    child = spawn(process.execPath, ["dist/hearth.cjs"], { env, stdio: ["ignore", "pipe", "inherit"] });
    const running = await new Promise<{ url: string; redis: string }>((resolve, reject) => {
      let output = "";
      child!.stdout!.on("data", (chunk: Buffer) => {
        output += chunk.toString();
        const line = output.split("\n").find((l) => l.includes("Hearth is running"));
        if (line) resolve(JSON.parse(line) as { url: string; redis: string });
      });
      child!.once("exit", (code) => reject(new Error(`hearth exited with ${code}: ${output}`)));
    });

    expect((await fetch(`${running.url}/healthz`)).status).toBe(200);
    const redis = new Redis(running.redis, { lazyConnect: true, retryStrategy: () => null });
    await redis.connect();
    expect((await redis.config("GET", "dir")) as string[]).toContain(path.join(dataDir, "redis"));
    redis.disconnect();

    await deploy(running.url, "proc", { runtime: "node" }, { "index.js": probeHandler() });
    expect((await invoke(running.url, "proc")).status).toBe(200);
    const inFlight = invoke(running.url, "proc", { sleepMs: 1000 });
    await new Promise((resolve) => setTimeout(resolve, 200));

    const exited = new Promise<number | null>((resolve) => child!.once("exit", resolve));
    child.kill("SIGTERM");
    expect((await inFlight).status).toBe(200);
    expect(await exited).toBe(0);
    expect(await listContainers(invokerId)).toHaveLength(0);
    const probe = new Redis(running.redis, { lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 });
    probe.on("error", () => undefined);
    await expect(probe.connect()).rejects.toThrow();
    probe.disconnect();
  });
});
