// The invoker's code cache on a real Docker engine: a package is unpacked once per host and mounted
// read-only at /var/task into each container of its function (and only of its function), the cache
// keeps to its size by evicting what no container mounts, and a hostile package never lands on the host.
// Its metrics on /metrics follow what the containers' starts did.

import { createHash, randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { readdir, stat } from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { functionKeys } from "../../gateway/protocol/keys.js";
import { startBarrier } from "../support/barrier.js";
import { deploy, deployPackage, docker, eventually, invoke, listContainers, startTestHearth, startTestRedis, TEST_CODE_CACHE_DIR, testConfig, useTestHearth, type TestHearth } from "../support/hearth.js";
import { scrape } from "../support/metrics.js";
import { rawTarGz, tarGz, type Files } from "../support/packages.js";
import type { EmbeddedRedis } from "../../gateway/redis/embedded-redis.js";

const MiB = 1024 * 1024;

/** Lists /var/task, tries to write there, looks for a path, and waits at a barrier when asked. */
const handler = `
const fs = require("node:fs");
const http = require("node:http");
const arrive = (url) => new Promise((resolve, reject) => {
  http.get(url, (res) => { let body = ""; res.on("data", (c) => (body += c)); res.on("end", () => resolve(body)); }).on("error", reject);
});
exports.handler = async (event, context) => {
  let write = "written";
  try { fs.writeFileSync("/var/task/evil.js", "x"); } catch (error) { write = error.code; }
  const barrier = event.barrier ? await arrive(event.barrier) : undefined;
  return { container: context.logStreamName, files: fs.readdirSync("/var/task").sort(), write, sees: (event.look ?? []).filter((p) => fs.existsSync(p)), barrier };
};
`;

/** `count` files of 1 MiB of random bytes (gzip cannot shrink them) and the handler. */
function randomFiles(count: number): Files {
  const files: Files = { "index.js": handler };
  for (let i = 0; i < count; i += 1) files[`data/blob-${i}.bin`] = randomBytes(MiB);
  return files;
}

const sha256 = (data: Buffer): string => createHash("sha256").update(data).digest("hex");
const entryOf = (t: TestHearth, sha: string): string => path.join(TEST_CODE_CACHE_DIR, t.invokerId, sha);

const LOOKUPS = (result: string): string => `hearth_code_cache_lookups_total{result="${result}"}`;
const UNPACKS = "hearth_code_cache_unpack_duration_seconds_count";
const UNPACK_SECONDS = "hearth_code_cache_unpack_duration_seconds_sum";
const BYTES_HELD = 'hearth_code_cache_bytes{kind="held"}';
const BYTES_LIMIT = 'hearth_code_cache_bytes{kind="limit"}';

/** The code cache's series now, less what they were at `before` (the describe's tests share one Hearth). */
async function codeCacheSince(url: string, before: (series: string) => number): Promise<(series: string) => number> {
  const now = await scrape(url);
  return (series) => now(series) - before(series);
}

/** The host folder mounted at /var/task in a container, and whether it is read-only. */
async function taskMount(dockerId: string): Promise<{ source?: string; readOnly?: boolean }> {
  const mount = (await docker.getContainer(dockerId).inspect()).Mounts.find((m) => m.Destination === "/var/task");
  return { source: mount?.Source, readOnly: mount ? !mount.RW : undefined };
}

describe("the code cache", () => {
  const h = useTestHearth({ containerNetworks: ["host"] });

  it("unpacks a big package once: a second container and a redeploy of the same code mount the same tree, read-only", async () => {
    const code = await tarGz(randomFiles(20));
    expect(code.length).toBeGreaterThan(20 * MiB);
    const sha = sha256(code);
    const settings = { runtime: "node", maxContainers: 2, network: "host" };
    expect((await deployPackage(h.url, "big", settings, code)).status).toBe(201);

    const before = await scrape(h.url);
    const first = await invoke(h.url, "big");
    expect(first.status).toBe(200);
    // The first container's start missed: one fetch and unpacking, timed; the tree is on the disk.
    const afterFirst = await codeCacheSince(h.url, before);
    expect([LOOKUPS("miss"), LOOKUPS("hit"), UNPACKS].map(afterFirst)).toEqual([1, 0, 1]);
    expect(afterFirst(UNPACK_SECONDS)).toBeGreaterThan(0);
    const usage = await scrape(h.url);
    expect(usage(BYTES_HELD)).toBeGreaterThanOrEqual(20 * MiB);
    expect(usage(BYTES_HELD)).toBeLessThanOrEqual(usage(BYTES_LIMIT));
    expect(usage(BYTES_LIMIT)).toBe(testConfig().codeCache.maxBytes);
    expect(usage("hearth_code_cache_entries")).toBeGreaterThanOrEqual(1);
    expect(first.body.files).toEqual(["data", "index.js"]);
    expect(first.body.write).toBe("EROFS");
    const entry = entryOf(h, sha);
    const unpacked = await stat(path.join(entry, "task"));

    // Two requests held together need two containers: the warm one and a new one.
    const barrier = await startBarrier(2);
    try {
      const [a, b] = await Promise.all([invoke(h.url, "big", { barrier: barrier.url }), invoke(h.url, "big", { barrier: barrier.url })]);
      expect([a.body.barrier, b.body.barrier]).toEqual(["together", "together"]);
      expect(a.body.container).not.toBe(b.body.container);
    } finally {
      await barrier.close();
    }
    // The same code again: a new version, the same package, the old containers retire.
    expect((await deployPackage(h.url, "big", { ...settings, timeout: 30 }, code)).status).toBe(200);
    const redeployed = await invoke(h.url, "big");
    expect(redeployed.status).toBe(200);
    expect(redeployed.body.files).toEqual(["data", "index.js"]);
    // The second container and the redeployed one's found the tree: hits, nothing unpacked again.
    const afterRedeploy = await codeCacheSince(h.url, before);
    expect([LOOKUPS("miss"), LOOKUPS("hit"), UNPACKS].map(afterRedeploy)).toEqual([1, 2, 1]);

    const again = await stat(path.join(entry, "task"));
    expect({ ino: again.ino, ctimeMs: again.ctimeMs }).toEqual({ ino: unpacked.ino, ctimeMs: unpacked.ctimeMs });
    expect((await readdir(path.dirname(entry))).filter((name) => name !== sha && !/^[0-9a-f]{64}$/.test(name))).toEqual([]);
    const containers = await listContainers(h.invokerId, "big");
    expect(containers.length).toBeGreaterThan(0);
    for (const container of containers) expect(await taskMount(container.Id)).toEqual({ source: path.join(entry, "task"), readOnly: true });
    // Files are writable by none, even on the host.
    expect((await stat(path.join(entry, "task", "index.js"))).mode & 0o222).toBe(0);
  });

  it("shows a container its own function's package only", async () => {
    const code = await tarGz({ "index.js": handler, "secret.txt": "big's neighbour" });
    expect((await deployPackage(h.url, "neighbour", { runtime: "node" }, code)).status).toBe(201);
    const other = await tarGz({ "index.js": handler });
    expect((await deployPackage(h.url, "other", { runtime: "node" }, other)).status).toBe(201);
    expect((await invoke(h.url, "neighbour")).status).toBe(200);

    const cacheDir = path.join(TEST_CODE_CACHE_DIR, h.invokerId);
    const seen = await invoke(h.url, "other", { look: [TEST_CODE_CACHE_DIR, cacheDir, path.join(entryOf(h, sha256(code)), "task", "secret.txt"), "/var/task/secret.txt"] });
    expect(seen.body).toMatchObject({ files: ["index.js"], sees: [], write: "EROFS" });
    const [container] = await listContainers(h.invokerId, "other");
    expect((await taskMount(container!.Id)).source).toBe(path.join(entryOf(h, sha256(other)), "task"));
  });

  it("refuses a hostile package written past the deploy's checks: nothing lands outside the cache, no entry is made", async () => {
    expect((await deploy(h.url, "hostile", { runtime: "node" }, { "index.js": handler })).status).toBe(201);
    const keys = functionKeys("hostile");
    const index = { path: "index.js", data: handler };
    const outside = path.join(TEST_CODE_CACHE_DIR, h.invokerId, "..", "escaped.js");
    const hostile: Record<string, Buffer> = {
      "a path climbing out": rawTarGz([index, { path: "../../escaped.js", data: "x" }]),
      "an absolute path": rawTarGz([index, { path: outside, data: "x" }]),
      "a symbolic link out": rawTarGz([index, { path: "passwd", type: "SymbolicLink", linkpath: "/etc/passwd" }]),
      "a climbing symbolic link": rawTarGz([index, { path: "lib/up", type: "SymbolicLink", linkpath: "../../../escaped.js" }]),
      "a hard link out": rawTarGz([index, { path: "shadow", type: "Link", linkpath: "/etc/shadow" }]),
    };
    const before = await scrape(h.url);
    for (const [what, code] of Object.entries(hostile)) {
      const sha = sha256(code);
      // As a deploy would store it, without the deploy's inspection.
      await h.client.set(keys.code(sha), code);
      await h.client.hset(keys.def, "codeSha", sha);
      const answer = await invoke(h.url, "hostile");
      expect(answer.status, what).toBe(503);
      expect(answer.body, what).toMatchObject({ errorType: "Hearth.ContainerStartFailed" });
      expect(answer.body.errorMessage, what).toMatch(/escapes the package root|points outside the package/);
      expect(existsSync(entryOf(h, sha)), what).toBe(false);
    }
    // Each refused start counted as an error, none as unpacked.
    const since = await codeCacheSince(h.url, before);
    expect([LOOKUPS("error"), LOOKUPS("miss"), UNPACKS].map(since)).toEqual([Object.keys(hostile).length, 0, 0]);
    expect(existsSync(outside)).toBe(false);
    expect(existsSync(path.join(TEST_CODE_CACHE_DIR, "escaped.js"))).toBe(false);
    expect((await readdir(path.join(TEST_CODE_CACHE_DIR, h.invokerId))).filter((name) => name.startsWith("."))).toEqual([]);
  });

  it("refuses a package whose bytes are not those of its SHA-256 (an entry serves every function of that code)", async () => {
    const honest = await tarGz({ "index.js": handler, "honest.txt": "yes" });
    expect((await deployPackage(h.url, "tampered", { runtime: "node" }, honest)).status).toBe(201);
    const sha = sha256(honest);
    await h.client.set(functionKeys("tampered").code(sha), await tarGz({ "index.js": handler, "evil.txt": "no" }));
    const answer = await invoke(h.url, "tampered");
    expect(answer.status).toBe(503);
    expect(answer.body.errorMessage).toContain("does not have that SHA-256");
    expect(existsSync(entryOf(h, sha))).toBe(false);
  });
});

describe("the code cache's bound", () => {
  let redis: EmbeddedRedis;
  let small: TestHearth;
  beforeAll(async () => {
    redis = await startTestRedis();
    // Room for three packages of 10 MiB, not four.
    small = await startTestHearth(redis, { codeCache: { ...testConfig().codeCache, maxBytes: 35 * MiB } });
  });
  afterAll(async () => {
    await small?.stop();
    await redis?.stop();
  });

  it("evicts the least recently used package no container mounts, never one a running container mounts", async () => {
    const shas: Record<string, string> = {};
    const deployAndRun = async (name: string, keepAlive: number): Promise<void> => {
      const code = await tarGz(randomFiles(10));
      shas[name] = sha256(code);
      expect((await deployPackage(small.url, name, { runtime: "node", keepAlive }, code)).status).toBe(201);
      expect((await invoke(small.url, name)).status).toBe(200);
    };
    const exited = (name: string) => eventually(async () => ((await listContainers(small.invokerId, name)).length === 0 ? true : undefined), 20_000, `${name}'s container to exit`);
    // The least recently used of all, but its container runs on.
    await deployAndRun("held", 600);
    await deployAndRun("oldest", 0.5);
    await exited("oldest");
    await deployAndRun("newer", 0.5);
    await exited("newer");
    expect([shas.held, shas.oldest, shas.newer].map((sha) => existsSync(entryOf(small, sha!)))).toEqual([true, true, true]);
    const full = await scrape(small.url);
    expect([full("hearth_code_cache_evictions_total"), full("hearth_code_cache_entries")]).toEqual([0, 3]);
    expect(full(BYTES_HELD)).toBeGreaterThan(30 * MiB);

    await deployAndRun("newest", 600);
    await eventually(async () => (existsSync(entryOf(small, shas.oldest!)) ? undefined : true), 10_000, "the oldest unmounted package to be evicted");
    expect([shas.held, shas.newer, shas.newest].map((sha) => existsSync(entryOf(small, sha!)))).toEqual([true, true, true]);
    // Four misses, one eviction, and three packages of 10 MiB held within the 35 MiB bound.
    const evicted = await scrape(small.url);
    expect([LOOKUPS("miss"), LOOKUPS("hit"), UNPACKS, "hearth_code_cache_evictions_total", "hearth_code_cache_entries"].map(evicted)).toEqual([4, 0, 4, 1, 3]);
    expect(evicted(BYTES_HELD)).toBeGreaterThan(30 * MiB);
    expect(evicted(BYTES_HELD)).toBeLessThanOrEqual(evicted(BYTES_LIMIT));
    expect(evicted(BYTES_LIMIT)).toBe(35 * MiB);
    // The held function still runs from its tree.
    expect((await invoke(small.url, "held")).body.files).toEqual(["data", "index.js"]);
  });
});
