// The code cache on a real file system, without Docker: containers starting at once share one
// unpacking, and a restarted invoker starts from an empty cache (a crash may have left trees half written).

import { createHash } from "node:crypto";
import { mkdir, mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { CodeCache } from "../../gateway/invoker/code-cache.js";
import { createLogger } from "../../gateway/logger.js";
import { Metrics } from "../../gateway/metrics/metrics.js";
import { eventually } from "../support/hearth.js";
import { tarGz } from "../support/packages.js";

const logger = createLogger("test-code-cache");
const dirs: string[] = [];
afterEach(async () => {
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});
async function cacheDir(): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), "hearth-code-cache-"));
  dirs.push(dir);
  return path.join(dir, "invoker");
}

/** The values of the code cache's series, as /metrics would show them. */
async function codeCacheSeries(metrics: Metrics): Promise<Record<string, number>> {
  const lines = (await metrics.registry.metrics()).split("\n").filter((line) => line.startsWith("hearth_code_cache_") && !line.includes("_bucket"));
  return Object.fromEntries(lines.map((line) => [line.slice(0, line.lastIndexOf(" ")), Number(line.slice(line.lastIndexOf(" ") + 1))]));
}

describe("CodeCache", () => {
  it("unpacks a package once for containers that start at the same time: one miss, the others hits", async () => {
    const directory = await cacheDir();
    const metrics = new Metrics();
    const cache = new CodeCache(directory, 1024 * 1024 * 1024, logger, metrics);
    const code = await tarGz({ "index.js": "exports.handler = () => 1;" });
    const sha = createHash("sha256").update(code).digest("hex");
    let fetches = 0;
    const fetch = async (): Promise<Buffer> => {
      fetches += 1;
      await new Promise((resolve) => setTimeout(resolve, 50));
      return code;
    };
    const paths = await Promise.all([cache.acquire(sha, fetch), cache.acquire(sha, fetch), cache.acquire(sha, fetch)]);
    expect(new Set(paths)).toEqual(new Set([path.join(directory, sha, "task")]));
    expect(fetches).toBe(1);
    expect(await readFile(path.join(directory, sha, "task", "index.js"), "utf8")).toBe("exports.handler = () => 1;");
    expect(await readdir(directory)).toEqual([sha]);
    expect(await codeCacheSeries(metrics)).toMatchObject({
      'hearth_code_cache_lookups_total{result="hit"}': 2,
      'hearth_code_cache_lookups_total{result="miss"}': 1,
      'hearth_code_cache_lookups_total{result="not_found"}': 0,
      'hearth_code_cache_lookups_total{result="error"}': 0,
      hearth_code_cache_unpack_duration_seconds_count: 1,
      hearth_code_cache_entries: 1,
      'hearth_code_cache_bytes{kind="held"}': "exports.handler = () => 1;".length,
      'hearth_code_cache_bytes{kind="limit"}': 1024 * 1024 * 1024,
    });
  });

  it("starts empty after a restart: what the earlier run left is removed, and a package is unpacked again", async () => {
    const directory = await cacheDir();
    const code = await tarGz({ "index.js": "x" });
    const sha = createHash("sha256").update(code).digest("hex");
    expect(await new CodeCache(directory, 1024 * 1024, logger, new Metrics()).acquire(sha, async () => code)).toBeDefined();
    await mkdir(path.join(directory, ".unpacking-abc", "task"), { recursive: true });

    const metrics = new Metrics();
    const restarted = new CodeCache(directory, 1024 * 1024, logger, metrics);
    expect(await restarted.acquire("0".repeat(64), async () => null)).toBeUndefined();
    expect((await codeCacheSeries(metrics))['hearth_code_cache_lookups_total{result="not_found"}']).toBe(1);
    let fetches = 0;
    const again = await restarted.acquire(sha, async () => {
      fetches += 1;
      return code;
    });
    expect(fetches).toBe(1);
    expect(await readFile(path.join(again!, "index.js"), "utf8")).toBe("x");
    await eventually(async () => ((await readdir(directory)).length === 1 ? true : undefined), 5_000, "the earlier run's entries to be removed");
    expect(await readdir(directory)).toEqual([sha]);
  });
});
