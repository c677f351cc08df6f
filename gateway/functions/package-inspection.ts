// What the gateway checks in a code package before it stores it: the archive reads to its end, every
// entry stays inside the package, and it unpacks within limits. Everything is read, not only headers
// (a zip's headers can lie about sizes), and counted as it inflates, so a bomb stops early. Runs in
// the package inspector's worker thread (package-inspector.ts), never on the gateway's event loop.

import path from "node:path";
import * as tar from "tar";
import yauzl from "yauzl";
import { CodePackageError, detectFormat, PLAIN_TAR, readTarGz, type PackageFormat } from "./code-package.js";

export interface PackageLimits {
  /** Bytes the package may unpack to (Lambda's limit on a function's unzipped size). */
  unpackedBytes: number;
  /** Entries (files, directories, links) it may hold. */
  entries: number;
}

const MiB = 1024 * 1024;

export const PACKAGE_LIMITS: PackageLimits = { unpackedBytes: 250 * MiB, entries: 10_000 };

export interface PackageSummary {
  format: PackageFormat;
  /** Paths of the regular files, relative to the package root, with / separators. */
  files: string[];
  /** The size of those files. */
  unpackedBytes: number;
  /** Those of them whose mode lets them be run (any x bit; a zip without Unix modes has none). */
  executables: string[];
}

/** The entry types a package may hold; devices, FIFOs and the like cannot be unpacked by the runtime's user. */
const TAR_TYPES = new Set(["File", "OldFile", "ContiguousFile", "Directory", "SymbolicLink", "Link"]);

export async function inspectPackage(data: Buffer, limits: PackageLimits = PACKAGE_LIMITS): Promise<PackageSummary> {
  const format = detectFormat(data);
  const summary: PackageSummary = { format, files: [], unpackedBytes: 0, executables: [] };
  const counter = new UnpackCounter(limits, summary);
  try {
    if (format === "zip") await inspectZip(data, counter);
    else await inspectTar(data, counter);
  } catch (error) {
    if (error instanceof CodePackageError) throw error;
    throw new CodePackageError(`code package is not a valid ${format} archive: ${(error as Error).message}`);
  }
  return summary;
}

/** Counts entries, file sizes and inflated bytes against the limits, throwing at the first one passed. */
class UnpackCounter {
  private entries = 0;
  private inflated = 0;

  constructor(
    private readonly limits: PackageLimits,
    private readonly summary: PackageSummary,
  ) {}

  /** A zip says how many entries it has before any is read. */
  declared(entries: number): void {
    if (entries > this.limits.entries) throw new CodePackageError(`code package holds ${entries} entries; the limit is ${this.limits.entries}`);
  }

  entry(name: string): void {
    if (++this.entries > this.limits.entries) {
      throw new CodePackageError(`code package holds more than ${this.limits.entries} entries (the limit), at ${name}`);
    }
  }

  /** A regular file, by the size its header gives (a tar bomb is stopped at its header). */
  file(name: string, size: number, mode: number): void {
    this.summary.files.push(name);
    if ((mode & 0o111) !== 0) this.summary.executables.push(name);
    this.summary.unpackedBytes += size;
    if (this.summary.unpackedBytes > this.limits.unpackedBytes) this.tooLarge();
  }

  /** Bytes as they inflate, whatever the headers say. */
  bytes(count: number): void {
    this.inflated += count;
    if (this.inflated > this.limits.unpackedBytes) this.tooLarge();
  }

  private tooLarge(): never {
    throw new CodePackageError(`code package unpacks to more than ${this.limits.unpackedBytes / MiB} MiB (the limit)`);
  }
}

async function inspectZip(data: Buffer, counter: UnpackCounter): Promise<void> {
  const zip = await yauzl.fromBufferPromise(data, { validateEntrySizes: true, strictFileNames: true });
  counter.declared(zip.entryCount);
  for await (const entry of zip.eachEntry()) {
    counter.entry(entry.fileName);
    if (isZipSymlink(entry)) throw new CodePackageError(`zip packages cannot hold symbolic links (${entry.fileName}); use tar.gz`);
    if (entry.fileName.endsWith("/")) continue;
    counter.file(entry.fileName, entry.uncompressedSize, entry.externalFileAttributes >>> 16);
    try {
      // yauzl fails the stream if the data is longer or shorter than the entry's header says.
      for await (const chunk of await zip.openReadStreamPromise(entry)) counter.bytes((chunk as Buffer).length);
    } catch (error) {
      if (error instanceof CodePackageError) throw error;
      throw new CodePackageError(`code package entry ${entry.fileName} is damaged: ${(error as Error).message}`);
    }
  }
}

async function inspectTar(data: Buffer, counter: UnpackCounter): Promise<void> {
  // The parser calls onReadEntry inside its own event handlers, where a throw would escape this
  // function: the first problem is kept and thrown from the stream that feeds it, which stops it.
  let problem: unknown;
  const parser = new tar.Parser({
    ...PLAIN_TAR,
    onReadEntry: (entry) => {
      entry.resume();
      if (problem) return;
      try {
        checkTarEntry(entry);
        counter.entry(entry.path);
        if (entry.type === "File" || entry.type === "OldFile" || entry.type === "ContiguousFile") counter.file(entry.path.replace(/^\.\//, ""), entry.size, entry.mode ?? 0);
      } catch (error) {
        problem = error;
      }
    },
  });
  await readTarGz(data, parser, (chunk) => {
    if (problem) throw problem;
    counter.bytes(chunk.length);
  });
  if (problem) throw problem;
}

function checkTarEntry(entry: tar.ReadEntry): void {
  if (!TAR_TYPES.has(entry.type)) {
    throw new CodePackageError(`code package entry ${entry.path} is a ${entry.type}: a package holds files, directories and links`);
  }
  if (climbs(entry.path)) throw new CodePackageError(`code package path escapes the package root: ${entry.path}`);
  if (entry.type !== "SymbolicLink" && entry.type !== "Link") return;
  const target = entry.linkpath ?? "";
  // A symbolic link's target is relative to its directory (and may climb within the package); a
  // hard link's is a path in the archive, which node-tar will not follow through "..".
  const outside = entry.type === "SymbolicLink" ? leaves(path.posix.join(path.posix.dirname(entry.path), target)) : climbs(target);
  if (!target || path.posix.isAbsolute(target) || outside) {
    const kind = entry.type === "SymbolicLink" ? "symbolic link" : "hard link";
    throw new CodePackageError(`code package ${kind} ${entry.path} points outside the package (to ${JSON.stringify(target)})`);
  }
}

/** Whether an entry's path is absolute or has a ".." part (node-tar would not unpack it there). */
function climbs(name: string): boolean {
  return path.posix.isAbsolute(name) || name.split("/").includes("..");
}

/** Whether a path relative to the package root, once normalised, is outside it. */
function leaves(name: string): boolean {
  const normal = path.posix.normalize(name);
  return normal === ".." || normal.startsWith("../");
}

function isZipSymlink(entry: yauzl.Entry): boolean {
  return ((entry.externalFileAttributes >>> 16) & 0o170000) === 0o120000;
}
