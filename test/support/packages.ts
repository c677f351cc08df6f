// Code packages built in memory for tests: tar.gz through node-tar, zip through yazl.

import { chmod, mkdtemp, mkdir, readdir, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { gzipSync } from "node:zlib";
import * as tar from "tar";
import yazl from "yazl";

export type Files = Record<string, string | Buffer>;

export async function tarGz(files: Files, modes: Record<string, number> = {}): Promise<Buffer> {
  const dir = await mkdtemp(path.join(os.tmpdir(), "hearth-pkg-"));
  try {
    for (const [name, content] of Object.entries(files)) {
      await mkdir(path.dirname(path.join(dir, name)), { recursive: true });
      await writeFile(path.join(dir, name), content);
      if (modes[name] !== undefined) await chmod(path.join(dir, name), modes[name]);
    }
    const chunks: Buffer[] = [];
    for await (const chunk of tar.c({ gzip: true, cwd: dir, portable: true }, Object.keys(files))) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export function zip(files: Files, modes: Record<string, number> = {}): Promise<Buffer> {
  const archive = new yazl.ZipFile();
  for (const [name, content] of Object.entries(files)) archive.addBuffer(Buffer.from(content), name, { mode: modes[name] ?? 0o100644 });
  archive.end();
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    archive.outputStream.on("data", (chunk: Buffer) => chunks.push(chunk));
    archive.outputStream.on("end", () => resolve(Buffer.concat(chunks)));
    archive.outputStream.on("error", reject);
  });
}

export interface TarEntry {
  path: string;
  /** node-tar's type names: File (the default), Directory, SymbolicLink, Link, CharacterDevice, … */
  type?: tar.types.EntryTypeName;
  linkpath?: string;
  data?: string | Buffer;
  /** The size the header gives, when it is not the data's (a bomb's header says gigabytes and no data follows). */
  size?: number;
}

/**
 * A tar.gz written header by header, for what node-tar's create would not make: links anywhere,
 * devices, sizes that lie, bytes after the archive's end (`after`).
 */
export function rawTarGz(entries: TarEntry[], after: Buffer = Buffer.alloc(0)): Buffer {
  return gzipSync(Buffer.concat([...entries.flatMap(tarBlocks), Buffer.alloc(1024), after]));
}

function tarBlocks(entry: TarEntry): Buffer[] {
  const data = Buffer.from(entry.data ?? "");
  const type = entry.type ?? "File";
  const header = new tar.Header({ path: entry.path, type, linkpath: entry.linkpath, size: entry.size ?? data.length, mode: type === "Directory" ? 0o755 : 0o644, mtime: new Date(0) });
  header.encode();
  return [header.block!, data, Buffer.alloc((512 - (data.length % 512)) % 512)];
}

/**
 * `start` gzipped, then gzip members of 32 MiB of zeros until `mebibytes` of zeros follow it: gunzip
 * reads concatenated members as one stream, so a bomb of gigabytes takes milliseconds to make.
 */
export function zerosAfter(start: Buffer, mebibytes: number): Buffer {
  const member = gzipSync(Buffer.alloc(32 * 1024 * 1024), { level: 9 });
  return Buffer.concat([gzipSync(start), ...Array.from({ length: Math.ceil(mebibytes / 32) }, () => member)]);
}

/** The bytes of an uncompressed tar holding these entries, without its end: for `zerosAfter`. */
export function tarStart(entries: TarEntry[]): Buffer {
  return Buffer.concat(entries.flatMap(tarBlocks));
}

/** A zip whose headers give `claimed` as the uncompressed size of `name`, whatever its data is. */
export async function lyingZip(files: Files, name: string, claimed: number): Promise<Buffer> {
  const data = Buffer.from(await zip(files));
  const nameBytes = Buffer.from(name);
  // Local file headers (PK\3\4, size at 22) and central directory headers (PK\1\2, size at 24).
  for (const [signature, sizeAt, nameLengthAt, nameAt] of [[0x04034b50, 22, 26, 30], [0x02014b50, 24, 28, 46]] as const) {
    for (let offset = data.indexOf(uint32(signature)); offset >= 0; offset = data.indexOf(uint32(signature), offset + 4)) {
      const length = data.readUInt16LE(offset + nameLengthAt);
      if (data.subarray(offset + nameAt, offset + nameAt + length).equals(nameBytes)) data.writeUInt32LE(claimed, offset + sizeAt);
    }
  }
  return data;
}

function uint32(value: number): Buffer {
  const bytes = Buffer.alloc(4);
  bytes.writeUInt32LE(value);
  return bytes;
}

/** Every file under `dir` (an example of examples/, say), keyed by its path inside it. */
export async function filesOf(dir: string): Promise<Files> {
  const files: Files = {};
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const full = path.join(entry.parentPath, entry.name);
    files[path.relative(dir, full)] = await readFile(full, "utf8");
  }
  return files;
}
