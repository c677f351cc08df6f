// Code packages are zip or tar.gz archives. The gateway inspects one at deploy time, off its event
// loop (package-inspector.ts), so that a broken package is a 400 then, not a failure at the first
// invoke; the invoker unpacks it once per host into its code cache (invoker/code-cache.ts). Both read
// a tar only up to the archive's end.

import { createWriteStream } from "node:fs";
import { mkdir } from "node:fs/promises";
import path from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createGunzip } from "node:zlib";
import type { Parser } from "tar";

// Loaded when first needed: the inspector's worker and the invoker read packages, the gateway's API
// process may never.
const loadTar = () => import("tar");
const loadYauzl = async () => (await import("yauzl")).default;

export type PackageFormat = "zip" | "tar.gz";

export class CodePackageError extends Error {}

export function detectFormat(data: Buffer): PackageFormat {
  if (data.length >= 4 && data.readUInt16BE(0) === 0x504b) return "zip";
  if (data.length >= 2 && data[0] === 0x1f && data[1] === 0x8b) return "tar.gz";
  throw new CodePackageError("code package must be a zip or a tar.gz archive");
}

/**
 * Feeds a tar.gz to a tar parser (a list, extract or read), up to the archive's end (two zero blocks)
 * and no further: node-tar keeps concatenating whatever follows the end (quadratic in its length), and
 * gzip makes that little to send. The gzip is inflated here, so `onInflated` sees every byte as it comes.
 */
export async function readTarGz(data: Buffer, parser: Parser, onInflated?: (chunk: Buffer) => void): Promise<void> {
  let atEnd = false;
  parser.on("eof", () => (atEnd = true));
  const gunzip = createGunzip();
  gunzip.end(data);
  async function* untilEnd(): AsyncGenerator<Buffer> {
    for await (const chunk of gunzip as AsyncIterable<Buffer>) {
      onInflated?.(chunk);
      yield chunk;
      if (atEnd) return;
    }
  }
  // From a Readable, pipeline listens for the parser's end before it ends it (tar ends synchronously).
  await pipeline(Readable.from(untilEnd()), parser);
}

/** Options for node-tar parsers fed inflated tar: no second guessing of the compression. */
export const PLAIN_TAR = { strict: true, brotli: false, zstd: false } as const;

/**
 * Unpacks a package into `directory`, owned by the unpacking process. Modes are set as entries are
 * written (files readable by all, executable by all where anyone may execute, writable by none;
 * folders writable by their owner only, who removes the tree): a walk afterwards would cost ~50 µs a
 * file. Entries that climb out (absolute paths, "..") are not unpacked there (node-tar's own rule); the
 * code cache inspects a package (links, limits) before it unpacks it.
 */
export async function extractPackage(data: Buffer, directory: string): Promise<void> {
  await mkdir(directory, { recursive: true });
  if (detectFormat(data) === "tar.gz") {
    const filter = (_path: string, entry: unknown): boolean => {
      const read = entry as { type?: string; mode?: number };
      if ((read.type === "File" || read.type === "Directory") && typeof read.mode === "number") read.mode = sharedMode(read.mode, read.type === "Directory");
      return true;
    };
    // No chown to the archive's owners: the files are the unpacking process's.
    await readTarGz(data, (await loadTar()).x({ ...PLAIN_TAR, cwd: directory, preserveOwner: false, filter, fmode: 0o444, dmode: 0o755 }));
    return;
  }
  const zip = await (await loadYauzl()).fromBufferPromise(data, { validateEntrySizes: true, strictFileNames: true });
  for await (const entry of zip.eachEntry()) {
    const target = path.join(directory, entry.fileName);
    if (entry.fileName.endsWith("/")) {
      await mkdir(target, { recursive: true, mode: 0o755 });
      continue;
    }
    await mkdir(path.dirname(target), { recursive: true, mode: 0o755 });
    // Keep the executable bit of Unix zips (prebuilt binaries need it).
    const mode = (entry.externalFileAttributes >>> 16) & 0o777 || 0o644;
    await pipeline(await zip.openReadStreamPromise(entry), createWriteStream(target, { mode: sharedMode(mode, false) }));
  }
}

/** Readable by all, executable by all where anyone may execute; files writable by none, folders by their owner; no setuid, setgid or sticky bits. */
function sharedMode(mode: number, folder: boolean): number {
  if (folder) return 0o755;
  return 0o444 | ((mode & 0o111) !== 0 ? 0o111 : 0);
}
