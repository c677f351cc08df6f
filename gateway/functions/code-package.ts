// Code packages are zip or tar.gz archives. The gateway inspects one at deploy time (so a broken
// package is a 400 then, not a failure at the first invoke); the adapter extracts it in the container.

import { createWriteStream } from "node:fs";
import { chmod, lstat, mkdir } from "node:fs/promises";
import path from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type yauzl from "yauzl";

// Loaded when first needed: the adapter extracts one format per cold start, and tar alone costs
// ~25 ms to load there.
const loadTar = () => import("tar");
const loadYauzl = async () => (await import("yauzl")).default;

/** Like AWS Lambda's limit on a function's unzipped size: keeps zip bombs out of containers. */
export const MAX_UNPACKED_BYTES = 250 * 1024 * 1024;

export type PackageFormat = "zip" | "tar.gz";

export class CodePackageError extends Error {}

export interface PackageSummary {
  format: PackageFormat;
  /** Paths of the regular files, relative to the package root, with / separators. */
  files: string[];
  unpackedBytes: number;
}

export function detectFormat(data: Buffer): PackageFormat {
  if (data.length >= 4 && data.readUInt16BE(0) === 0x504b) return "zip";
  if (data.length >= 2 && data[0] === 0x1f && data[1] === 0x8b) return "tar.gz";
  throw new CodePackageError("code package must be a zip or a tar.gz archive");
}

export async function inspectPackage(data: Buffer): Promise<PackageSummary> {
  const format = detectFormat(data);
  const files: string[] = [];
  let unpackedBytes = 0;
  const add = (name: string, size: number): void => {
    unpackedBytes += size;
    if (unpackedBytes > MAX_UNPACKED_BYTES) {
      throw new CodePackageError(`code package unpacks to more than ${MAX_UNPACKED_BYTES / 1024 / 1024} MiB`);
    }
    files.push(name);
  };
  try {
    if (format === "zip") {
      const zip = await (await loadYauzl()).fromBufferPromise(data, { validateEntrySizes: true, strictFileNames: true });
      for await (const entry of zip.eachEntry()) {
        if (isZipSymlink(entry)) throw new CodePackageError(`zip packages cannot hold symbolic links (${entry.fileName}); use tar.gz`);
        if (!entry.fileName.endsWith("/")) add(entry.fileName, entry.uncompressedSize);
      }
    } else {
      // tar's entry callback runs inside its parser's event handlers: throwing there would escape
      // this function, so the first problem is kept and raised once the archive has been read.
      let problem: unknown;
      await pipeline(
        Readable.from([data]),
        (await loadTar()).t({
          strict: true,
          onReadEntry: (entry) => {
            if (problem) return;
            try {
              if (path.isAbsolute(entry.path) || entry.path.split("/").includes("..")) {
                throw new CodePackageError(`code package path escapes the package root: ${entry.path}`);
              }
              if (entry.type === "File" || entry.type === "OldFile") add(entry.path.replace(/^\.\//, ""), entry.size);
            } catch (error) {
              problem = error;
            }
          },
        }),
      );
      if (problem) throw problem;
    }
  } catch (error) {
    if (error instanceof CodePackageError) throw error;
    throw new CodePackageError(`code package is not a valid ${format} archive: ${(error as Error).message}`);
  }
  return { format, files, unpackedBytes };
}

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
    await pipeline(Readable.from([data]), (await loadTar()).x({ cwd: directory, strict: true, filter, fmode: fileMode(0o644) }));
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

function isZipSymlink(entry: yauzl.Entry): boolean {
  return ((entry.externalFileAttributes >>> 16) & 0o170000) === 0o120000;
}
