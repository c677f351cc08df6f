// Code packages are zip or tar.gz archives. The gateway inspects one at deploy time, off its event
// loop (package-inspector.ts), so that a broken package is a 400 then, not a failure at the first
// invoke; the adapter extracts it in the container. Both read a tar only up to the archive's end.

import { createWriteStream } from "node:fs";
import { chmod, lstat, mkdir } from "node:fs/promises";
import path from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createGunzip } from "node:zlib";
import type { Parser } from "tar";

// Loaded when first needed: the adapter extracts one format per cold start, and tar alone costs
// ~25 ms to load there.
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
 * Unpacks a package into directory. readOnly: nothing unpacked keeps a write bit, files from the
 * moment they are written, folders once everything is in (a walk of the tree afterwards would cost
 * a cold start ~50 µs a file).
 */
export async function extractPackage(data: Buffer, directory: string, { readOnly = false } = {}): Promise<void> {
  await mkdir(directory, { recursive: true });
  const folders = new Set<string>([directory]);
  const fileMode = (mode: number): number => (readOnly ? mode & ~0o222 : mode);
  /** A folder and the ones between it and directory (an archive need not list them). */
  const addFolders = (folder: string): void => {
    for (let at = folder; at.startsWith(directory) && !folders.has(at); at = path.dirname(at)) folders.add(at);
  };
  if (detectFormat(data) === "tar.gz") {
    const filter = (entryPath: string, entry: unknown): boolean => {
      const target = path.join(directory, entryPath);
      const read = entry as { type?: string; mode?: number };
      addFolders(read.type === "Directory" ? target : path.dirname(target));
      if (read.type === "File" && typeof read.mode === "number") read.mode = fileMode(read.mode);
      return true;
    };
    await readTarGz(data, (await loadTar()).x({ ...PLAIN_TAR, cwd: directory, filter, fmode: fileMode(0o644) }));
  } else {
    const zip = await (await loadYauzl()).fromBufferPromise(data, { validateEntrySizes: true, strictFileNames: true });
    for await (const entry of zip.eachEntry()) {
      const target = path.join(directory, entry.fileName);
      if (entry.fileName.endsWith("/")) {
        await mkdir(target, { recursive: true });
        addFolders(target);
        continue;
      }
      await mkdir(path.dirname(target), { recursive: true });
      addFolders(path.dirname(target));
      // Keep the executable bit of Unix zips (prebuilt binaries need it).
      const mode = (entry.externalFileAttributes >>> 16) & 0o777 || 0o644;
      await pipeline(await zip.openReadStreamPromise(entry), createWriteStream(target, { mode: fileMode(mode) }));
    }
  }
  if (readOnly) await Promise.all([...folders].map(removeWriteBits));
}

/** A folder the package made (a link it planted there is left alone). */
async function removeWriteBits(folder: string): Promise<void> {
  const stats = await lstat(folder).catch(() => undefined);
  if (stats?.isDirectory()) await chmod(folder, stats.mode & 0o7777 & ~0o222);
}

