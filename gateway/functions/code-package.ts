// Code packages are zip or tar.gz archives. The gateway inspects one at deploy time (so a broken
// package is a 400 then, not a failure at the first invoke); the adapter extracts it in the container.

import { createWriteStream } from "node:fs";
import { chmod, lstat, mkdir, readdir } from "node:fs/promises";
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
 * Unpacks a package into `directory`, owned by the adapter (root) and readable by all: the runtime,
 * under a uid of its own, reads and runs its code but cannot change it (as on Lambda).
 */
export async function extractPackage(data: Buffer, directory: string): Promise<void> {
  await mkdir(directory, { recursive: true });
  if (detectFormat(data) === "tar.gz") {
    // No chown to the archive's owners: the adapter has no CAP_CHOWN, and root-owned is the point.
    await pipeline(Readable.from([data]), (await loadTar()).x({ cwd: directory, strict: true, preserveOwner: false }));
  } else {
    await extractZip(data, directory);
  }
  await makeReadableToAll(directory);
}

/** Adds read (and, where anyone may execute, execute) permission for all to every file and folder. */
async function makeReadableToAll(directory: string): Promise<void> {
  for (const name of ["", ...(await readdir(directory, { recursive: true }))]) {
    const target = path.join(directory, name);
    const stats = await lstat(target);
    if (stats.isSymbolicLink()) continue;
    const executable = stats.isDirectory() || (stats.mode & 0o111) !== 0;
    await chmod(target, (stats.mode & 0o7777) | 0o444 | (executable ? 0o111 : 0));
  }
}

async function extractZip(data: Buffer, directory: string): Promise<void> {
  const zip = await (await loadYauzl()).fromBufferPromise(data, { validateEntrySizes: true, strictFileNames: true });
  for await (const entry of zip.eachEntry()) {
    const target = path.join(directory, entry.fileName);
    if (entry.fileName.endsWith("/")) {
      await mkdir(target, { recursive: true });
      continue;
    }
    await mkdir(path.dirname(target), { recursive: true });
    // Keep the executable bit of Unix zips (prebuilt binaries need it).
    const mode = (entry.externalFileAttributes >>> 16) & 0o777 || 0o644;
    await pipeline(await zip.openReadStreamPromise(entry), createWriteStream(target, { mode }));
  }
}

function isZipSymlink(entry: yauzl.Entry): boolean {
  return ((entry.externalFileAttributes >>> 16) & 0o170000) === 0o120000;
}
