import { chmod, mkdtemp, readdir, readFile, rm, stat } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import * as tar from "tar";
import { afterEach, describe, expect, it } from "vitest";
import { CodePackageError, extractPackage } from "../../gateway/functions/code-package.js";
import { inspectPackage } from "../../gateway/functions/package-inspection.js";
import { tarGz, zip } from "../support/packages.js";

const dirs: string[] = [];
/** Writable again, so that a user other than root can remove what was unpacked read-only. */
async function chmodTree(dir: string): Promise<void> {
  await chmod(dir, 0o755);
  for (const entry of await readdir(dir, { withFileTypes: true })) if (entry.isDirectory()) await chmodTree(path.join(dir, entry.name));
}
async function tempDir(): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), "hearth-unit-"));
  dirs.push(dir);
  return dir;
}
afterEach(async () => {
  for (const dir of dirs.splice(0)) {
    await chmodTree(dir);
    await rm(dir, { recursive: true, force: true });
  }
});

describe("code packages", () => {
  it("lists and extracts a tar.gz", async () => {
    const data = await tarGz({ "index.js": "one", "lib/util.js": "two" });
    expect(await inspectPackage(data)).toMatchObject({ format: "tar.gz", files: ["index.js", "lib/util.js"], unpackedBytes: 6 });
    const dir = await tempDir();
    await extractPackage(data, dir);
    expect(await readFile(path.join(dir, "lib/util.js"), "utf8")).toBe("two");
  });

  it("lists and extracts a zip, keeping the executable bit", async () => {
    const data = await zip({ "bootstrap": "#!/bin/sh", "index.js": "x" }, { bootstrap: 0o100755 });
    expect((await inspectPackage(data)).files.sort()).toEqual(["bootstrap", "index.js"]);
    const dir = await tempDir();
    await extractPackage(data, dir);
    expect((await stat(path.join(dir, "bootstrap"))).mode & 0o111).not.toBe(0);
    expect(await readFile(path.join(dir, "index.js"), "utf8")).toBe("x");
  });

  it("unpacks files readable by all and writable by none (folders by their owner), without setuid, setgid or sticky bits", async () => {
    const modes = async (dir: string, names: string[]) => Promise.all(names.map(async (name) => (await stat(path.join(dir, name))).mode & 0o7777));
    const fromTar = await tempDir();
    await extractPackage(await tarGz({ "index.js": "one", "lib/deep/util.js": "two" }), fromTar);
    expect(await modes(fromTar, ["index.js", "lib", "lib/deep", "lib/deep/util.js"])).toEqual([0o444, 0o755, 0o755, 0o444]);
    expect(await readFile(path.join(fromTar, "lib/deep/util.js"), "utf8")).toBe("two");

    const fromZip = await tempDir();
    const files = { bootstrap: "#!/bin/sh", "private.js": "x", "setuid.sh": "#!/bin/sh", "shared.js": "y", "lib/index.js": "z" };
    await extractPackage(await zip(files, { bootstrap: 0o100755, "private.js": 0o100600, "setuid.sh": 0o104777, "shared.js": 0o100666 }), fromZip);
    expect(await modes(fromZip, ["bootstrap", "private.js", "setuid.sh", "shared.js", "lib", "lib/index.js"])).toEqual([0o555, 0o444, 0o555, 0o444, 0o755, 0o444]);
  });

  it("rejects what is not a zip or tar.gz, and broken archives", async () => {
    await expect(inspectPackage(Buffer.from("hello"))).rejects.toThrow(CodePackageError);
    const truncated = (await zip({ "index.js": "x".repeat(1000) })).subarray(0, 60);
    await expect(inspectPackage(truncated)).rejects.toThrow(/not a valid zip/);
    await expect(inspectPackage(Buffer.from([0x1f, 0x8b, 0x08, 0x00, 0x01]))).rejects.toThrow(/not a valid tar.gz/);
  });

  it("rejects a tar.gz whose paths climb out of the package", async () => {
    const dir = await tempDir();
    const inner = path.join(dir, "inner");
    await extractPackage(await tarGz({ "x.js": "x" }), inner);
    const chunks: Buffer[] = [];
    for await (const chunk of tar.c({ gzip: true, cwd: inner, preservePaths: true }, ["../inner/x.js"])) chunks.push(chunk as Buffer);
    await expect(inspectPackage(Buffer.concat(chunks))).rejects.toThrow(/escapes/);
  });
});
