// The code packages of one invoker's host, unpacked: each once, then bind-mounted read-only at
// /var/task into every container that runs it, instead of every container fetching and unpacking it
// at its cold start. Entries are named by the package's SHA-256 (the definition's codeSha), so that a
// redeploy of the same code, or two functions of the same code, share one.
//
// Layout under the invoker's own folder (two invokers on a host never share one):
//   <sha>/task     the unpacked tree, the one path a container mounts
//   .unpacking-*   a tree being unpacked; renamed to <sha> when whole, so none is ever seen half made
//   .evicting-*    a tree being removed
// The folder starts empty with every run of the invoker: after a host crash a renamed tree may hold
// files whose data never reached the disk, and nothing cheap tells them apart (fsync of every file
// would cost more than unpacking again once).

import { createHash } from "node:crypto";
import { chmod, mkdir, mkdtemp, readdir, rename, rm } from "node:fs/promises";
import path from "node:path";
import { setImmediate } from "node:timers/promises";
import { extractPackage } from "../functions/code-package.js";
import { inspectOffLoop } from "../functions/package-inspector.js";
import type { Logger } from "../logger.js";
import type { CodeCacheRecorder, Metrics } from "../metrics/metrics.js";

const SHA256 = /^[0-9a-f]{64}$/;
/** Hashed this much at a time, the event loop free in between. */
const HASH_CHUNK_BYTES = 1024 * 1024;

interface Entry {
  bytes: number;
  lastUsed: number;
  /** Containers that mount it now (acquired, not released): never evicted while any does. */
  holders: number;
}

/**
 * How an acquire found its package: hit (unpacked on this host already, or being unpacked for another
 * container, which it waited for), miss (it fetched and unpacked it), not_found (there was no package
 * to fetch), error (the fetch or the checks failed: the acquire threw).
 */
export const LOOKUP_RESULTS = ["hit", "miss", "not_found", "error"] as const;
export type LookupResult = (typeof LOOKUP_RESULTS)[number];

/** What the cache holds now, read at scrape time. */
export interface CodeCacheUsage {
  bytes: number;
  maxBytes: number;
  entries: number;
}

export class CodeCache {
  private readonly entries = new Map<string, Entry>();
  /** Packages being fetched and unpacked (false: there was none), so that containers starting at once share one fetch and one unpacking. */
  private readonly filling = new Map<string, Promise<boolean>>();
  /** Entries being removed, so that a new unpacking of the same package waits for the old tree to go. */
  private readonly removing = new Map<string, Promise<void>>();
  private opened?: Promise<void>;
  private readonly recorder: CodeCacheRecorder;

  constructor(
    /** This invoker's folder, a path the Docker engine sees (it mounts entries by their path). */
    readonly directory: string,
    private readonly maxBytes: number,
    private readonly logger: Logger,
    metrics: Metrics,
  ) {
    this.recorder = metrics.observeCodeCache(() => this.usage());
  }

  /**
   * The host path of the package's unpacked tree, unpacked first if this host has not yet; held
   * (never evicted) until release(sha). Undefined when `fetch` finds no package (the function was
   * redeployed or deleted meanwhile): nothing is held then.
   */
  async acquire(sha: string, fetch: () => Promise<Buffer | null>): Promise<string | undefined> {
    if (!SHA256.test(sha)) throw new Error(`not a SHA-256: ${sha}`);
    try {
      await (this.opened ??= this.open());
      const { tree, result } = await this.find(sha, fetch);
      this.recorder.countLookup(result);
      return tree;
    } catch (error) {
      this.recorder.countLookup("error");
      throw error;
    }
  }

  /** Unpacked bytes and entries now (trees being removed not counted), for the metrics read at scrape time. */
  usage(): CodeCacheUsage {
    let bytes = 0;
    for (const entry of this.entries.values()) bytes += entry.bytes;
    return { bytes, maxBytes: this.maxBytes, entries: this.entries.size };
  }

  private async find(sha: string, fetch: () => Promise<Buffer | null>): Promise<{ tree?: string; result: Exclude<LookupResult, "error"> }> {
    for (;;) {
      const entry = this.entries.get(sha);
      if (entry) {
        entry.holders += 1;
        entry.lastUsed = Date.now();
        return { tree: this.taskPath(sha), result: "hit" };
      }
      const filling = this.filling.get(sha);
      if (filling) {
        if (!(await filling)) return { result: "not_found" };
        continue;
      }
      const fill = this.fetchAndFill(sha, fetch).finally(() => this.filling.delete(sha));
      this.filling.set(sha, fill);
      return (await fill) ? { tree: this.taskPath(sha), result: "miss" } : { result: "not_found" };
    }
  }

  /** A container that mounted the package is gone. */
  release(sha: string): void {
    const entry = this.entries.get(sha);
    if (!entry) return;
    entry.holders = Math.max(0, entry.holders - 1);
    entry.lastUsed = Date.now();
    this.evict();
  }

  private taskPath(sha: string): string {
    return path.join(this.directory, sha, "task");
  }

  /** Removes what an earlier run of this invoker left (its containers are gone too): renamed at once, deleted in the background. */
  private async open(): Promise<void> {
    // Other users of the host have no business reading functions' code.
    await mkdir(this.directory, { recursive: true, mode: 0o700 });
    for (const name of await readdir(this.directory)) {
      const doomed = name.startsWith(".evicting-") ? name : `.evicting-${name}-${Date.now()}`;
      if (doomed !== name) await rename(path.join(this.directory, name), path.join(this.directory, doomed));
      rm(path.join(this.directory, doomed), { recursive: true, force: true }).catch((err: unknown) => this.logger.error({ err, name }, "removing an earlier run's code cache entry failed"));
    }
  }

  /** Unpacks the package, held once for the acquire that started it; false if there is none. */
  private async fetchAndFill(sha: string, fetch: () => Promise<Buffer | null>): Promise<boolean> {
    const started = performance.now();
    const data = await fetch();
    if (!data) return false;
    // Content-addressed: a package is unpacked under a name only if it is what the name says (an entry
    // serves every function of that code, so a wrong one would run in other functions' containers).
    if ((await sha256(data)) !== sha) throw new Error(`the code package stored for ${sha} does not have that SHA-256`);
    // The deploy's checks again (limits, paths and links inside the package), off the event loop:
    // what is unpacked here lands on the host's disk.
    const { unpackedBytes } = await inspectOffLoop(data);
    await this.removing.get(sha);
    const temporary = await mkdtemp(path.join(this.directory, ".unpacking-"));
    try {
      await chmod(temporary, 0o755);
      await extractPackage(data, path.join(temporary, "task"));
      await rename(temporary, path.join(this.directory, sha));
    } catch (error) {
      await rm(temporary, { recursive: true, force: true });
      throw error;
    }
    // Held by the acquire that unpacked it.
    this.entries.set(sha, { bytes: unpackedBytes, lastUsed: Date.now(), holders: 1 });
    const seconds = (performance.now() - started) / 1000;
    this.recorder.observeUnpack(seconds);
    this.logger.info({ sha, bytes: unpackedBytes, ms: Math.round(seconds * 1000) }, "unpacked a code package into the code cache");
    this.evict();
    return true;
  }

  /** Removes the least recently used entries no container holds until the cache fits its bound (or only held ones are left). */
  private evict(): void {
    let total = this.usage().bytes;
    const candidates = [...this.entries].filter(([, entry]) => entry.holders === 0).sort(([, a], [, b]) => a.lastUsed - b.lastUsed);
    for (const [sha, entry] of candidates) {
      if (total <= this.maxBytes) return;
      total -= entry.bytes;
      this.entries.delete(sha);
      const removal = this.remove(sha)
        .catch((err: unknown) => this.logger.error({ err, sha }, "removing a code package from the code cache failed"))
        .finally(() => this.removing.delete(sha));
      this.removing.set(sha, removal);
      this.recorder.countEviction();
      this.logger.info({ sha, bytes: entry.bytes }, "evicted a code package from the code cache");
    }
  }

  /** Renamed first, so that the name is free at once and nothing half removed keeps it. */
  private async remove(sha: string): Promise<void> {
    const doomed = path.join(this.directory, `.evicting-${sha}-${Date.now()}`);
    await rename(path.join(this.directory, sha), doomed);
    await rm(doomed, { recursive: true, force: true });
  }
}

async function sha256(data: Buffer): Promise<string> {
  const hash = createHash("sha256");
  for (let offset = 0; offset < data.length; offset += HASH_CHUNK_BYTES) {
    hash.update(data.subarray(offset, offset + HASH_CHUNK_BYTES));
    await setImmediate();
  }
  return hash.digest("hex");
}
