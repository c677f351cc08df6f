// The code cache on a real file system, without Docker: containers starting at once share one
// unpacking, and a restarted invoker starts from an empty cache (a crash may have left trees half written).

import { createHash } from "node:crypto";
import { mkdir, mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { CodeCache } from "../../gateway/invoker/code-cache.js";
import { createLogger } from "../../gateway/logger.js";
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

describe("CodeCache", () => {
  it("unpacks a package once for containers that start at the same time", async () => {
    const directory = await cacheDir();
    const cache = new CodeCache(directory, 1024 * 1024 * 1024, logger);
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
  });

  it("starts empty after a restart: what the earlier run left is removed, and a package is unpacked again", async () => {
    const directory = await cacheDir();
    const code = await tarGz({ "index.js": "x" });
    const sha = createHash("sha256").update(code).digest("hex");
    expect(await new CodeCache(directory, 1024 * 1024, logger).acquire(sha, async () => code)).toBeDefined();
    await mkdir(path.join(directory, ".unpacking-abc", "task"), { recursive: true });

    const restarted = new CodeCache(directory, 1024 * 1024, logger);
    expect(await restarted.acquire("0".repeat(64), async () => null)).toBeUndefined();
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
