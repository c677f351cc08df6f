// Hearth as a user runs it: `node dist/hearth.cjs` with no REDIS_URL starts its own redis-server,
// serves, and on SIGTERM finishes, stops its containers and its redis-server. Without
// HEARTH_ADMIN_TOKEN it makes an admin token of its own in its data directory and says where. With
// REDIS_SENTINELS it finds the master through the Sentinels.

import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm, stat } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { Redis } from "ioredis";
import { afterAll, describe, expect, it } from "vitest";
import { probeHandler } from "../support/functions.js";
import { deploy, invoke, listContainers, TEST_ADMIN_TOKEN } from "../support/hearth.js";
import { startSentinelSetup } from "../support/sentinel.js";

const children = new Set<ChildProcess>();
const dataDirs: string[] = [];

afterAll(async () => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  for (const dir of dataDirs) await rm(dir, { recursive: true, force: true });
});

interface Running {
  child: ChildProcess;
  /** The start-up log line, parsed. */
  started: { url: string; redis: string; adminTokenFile?: string };
  /** Everything it wrote to stdout up to and including that line. */
  output: string;
  exited: Promise<number | null>;
}

async function newDataDir(): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), "hearth-process-"));
  dataDirs.push(dir);
  return dir;
}

/** `node dist/hearth.cjs` on embedded defaults with these variables; resolves once it is running. */
async function startProcess(env: NodeJS.ProcessEnv): Promise<Running> {
  expect(existsSync("dist/hearth.cjs"), "dist/hearth.cjs is missing: run scripts/test.sh (it builds)").toBe(true);
  const fullEnv: NodeJS.ProcessEnv = { ...process.env, PORT: "0", LOG_LEVEL: "info", ...env };
  delete fullEnv.REDIS_URL;
  if (env.HEARTH_ADMIN_TOKEN === undefined) delete fullEnv.HEARTH_ADMIN_TOKEN;
  const child = spawn(process.execPath, ["dist/hearth.cjs"], { env: fullEnv, stdio: ["ignore", "pipe", "inherit"] });
  children.add(child);
  const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
  return new Promise<Running>((resolve, reject) => {
    let output = "";
    child.stdout!.on("data", (chunk: Buffer) => {
      output += chunk.toString();
      const line = output.split("\n").find((l) => l.includes("Hearth is running"));
      if (line) resolve({ child, started: JSON.parse(line) as Running["started"], output, exited });
    });
    void exited.then((code) => reject(new Error(`hearth exited with ${code}: ${output}`)));
  });
}

async function stopProcess(running: Running): Promise<number | null> {
  running.child.kill("SIGTERM");
  return running.exited;
}

describe("the hearth process", () => {
  it("runs on embedded defaults and shuts down cleanly on SIGTERM", async () => {
    const dataDir = await newDataDir();
    const invokerId = `test-process-${Date.now()}`;
    const running = await startProcess({ HEARTH_DATA_DIR: dataDir, HEARTH_INVOKER_ID: invokerId, HEARTH_ADMIN_TOKEN: TEST_ADMIN_TOKEN });
    const { url, redis: redisUrl, adminTokenFile } = running.started;
    // A token given is used as it is: nothing generated, nothing written.
    expect(adminTokenFile).toBeUndefined();
    expect(existsSync(path.join(dataDir, "admin-token"))).toBe(false);

    expect((await fetch(`${url}/healthz`)).status).toBe(200);
    // The log names Redis without its password, which an operator reads from the data directory.
    expect(new URL(redisUrl).password).toBe("");
    const password = (await readFile(path.join(dataDir, "redis", "password"), "utf8")).trim();
    const redis = new Redis(redisUrl, { password, lazyConnect: true, retryStrategy: () => null });
    await redis.connect();
    expect((await redis.config("GET", "dir")) as string[]).toContain(path.join(dataDir, "redis"));
    redis.disconnect();

    await deploy(url, "proc", { runtime: "node" }, { "index.js": probeHandler() });
    expect((await invoke(url, "proc")).status).toBe(200);
    const inFlight = invoke(url, "proc", { sleepMs: 1000 });
    await new Promise((resolve) => setTimeout(resolve, 200));

    const exitCode = stopProcess(running);
    expect((await inFlight).status).toBe(200);
    expect(await exitCode).toBe(0);
    expect(await listContainers(invokerId)).toHaveLength(0);
    const probe = new Redis(redisUrl, { lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 });
    probe.on("error", () => undefined);
    await expect(probe.connect()).rejects.toThrow();
    probe.disconnect();
  });

  it("without HEARTH_ADMIN_TOKEN makes one in its data directory (0600), names the file in its log, and reuses it", async () => {
    const dataDir = await newDataDir();
    const env = { HEARTH_DATA_DIR: dataDir, HEARTH_INVOKER_ID: `test-process-token-${Date.now()}`, HEARTH_ROLES: "api" };
    const first = await startProcess(env);
    const file = first.started.adminTokenFile;
    expect(file).toBe(path.resolve(dataDir, "admin-token"));
    expect((await stat(file!)).mode & 0o777).toBe(0o600);
    const token = (await readFile(file!, "utf8")).trim();
    expect(token.length).toBeGreaterThanOrEqual(32);
    // The log says where the token is, never what it is; nor what Redis's password is.
    expect(first.output).not.toContain(token);
    const redisPassword = (await readFile(path.join(dataDir, "redis", "password"), "utf8")).trim();
    expect(redisPassword.length).toBeGreaterThanOrEqual(16);
    expect(first.output).not.toContain(redisPassword);

    const listFunctions = (url: string, key?: string): Promise<Response> =>
      fetch(`${url}/system/functions`, { headers: key ? { authorization: `Bearer ${key}` } : {} });
    expect((await listFunctions(first.started.url)).status).toBe(401);
    expect((await listFunctions(first.started.url, token)).status).toBe(200);
    expect(await stopProcess(first)).toBe(0);

    const second = await startProcess(env);
    expect(second.started.adminTokenFile).toBe(file);
    expect((await readFile(file!, "utf8")).trim()).toBe(token);
    expect((await listFunctions(second.started.url, token)).status).toBe(200);
    expect(await stopProcess(second)).toBe(0);
  });

  it("refuses to start an API on a shared Redis (REDIS_URL) without HEARTH_ADMIN_TOKEN", async () => {
    const dataDir = await newDataDir();
    const env: NodeJS.ProcessEnv = { ...process.env, PORT: "0", HEARTH_DATA_DIR: dataDir, HEARTH_ROLES: "api", REDIS_URL: "redis://127.0.0.1:1" };
    delete env.HEARTH_ADMIN_TOKEN;
    const child = spawn(process.execPath, ["dist/hearth.cjs"], { env, stdio: ["ignore", "pipe", "pipe"] });
    children.add(child);
    let output = "";
    child.stdout!.on("data", (chunk: Buffer) => (output += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
    expect(code).toBe(1);
    expect(output).toContain("HEARTH_ADMIN_TOKEN is required with REDIS_URL");
  });

  it("runs on Redis behind Sentinel from its settings, its containers reaching the master through its own socket", async () => {
    const setup = await startSentinelSetup();
    try {
      const { sentinels, name, password, sentinelPassword } = setup.target;
      const dataDir = await newDataDir();
      const running = await startProcess({
        HEARTH_DATA_DIR: dataDir,
        HEARTH_INVOKER_ID: `test-process-${Date.now()}`,
        HEARTH_ADMIN_TOKEN: TEST_ADMIN_TOKEN,
        REDIS_SENTINELS: sentinels.map(({ host, port }) => `${host}:${port}`).join(","),
        REDIS_SENTINEL_MASTER: name,
        REDIS_PASSWORD: password,
        REDIS_SENTINEL_PASSWORD: sentinelPassword,
      });
      // Named without a password.
      expect(running.started.redis).toBe(`sentinel://${sentinels.map(({ host, port }) => `${host}:${port}`).join(",")}/${name}`);
      expect((await deploy(running.started.url, "on-sentinel", { runtime: "node" }, { "index.js": probeHandler() })).status).toBe(201);
      expect(await invoke(running.started.url, "on-sentinel", { echo: "through the socket" })).toMatchObject({ status: 200, body: { echo: "through the socket" } });
      expect(existsSync(path.join(dataDir, "master-socket", "redis.sock"))).toBe(true);
      expect(await stopProcess(running)).toBe(0);
    } finally {
      await setup.stop();
    }
  });
});
