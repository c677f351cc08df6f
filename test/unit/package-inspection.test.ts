// The deploy-time checks of code packages: limits on entries and unpacked bytes, links that stay
// inside the package, zips whose headers lie, tar read to its end and no further; and the inspector
// that runs them in a worker thread (dist/package-inspector.cjs: the test command builds first).

import { mkdtemp, readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { extractPackage } from "../../gateway/functions/code-package.js";
import { inspectPackage, PACKAGE_LIMITS } from "../../gateway/functions/package-inspection.js";
import { inspectOffLoop } from "../../gateway/functions/package-inspector.js";
import { lyingZip, rawTarGz, tarGz, tarStart, zerosAfter, zip } from "../support/packages.js";

const index = { path: "index.js", data: "exports.handler = async () => 1;" };

describe("package inspection", () => {
  it("holds packages to the entry limit, for tar and zip, naming it", async () => {
    const limits = { ...PACKAGE_LIMITS, entries: 10 };
    const entries = Array.from({ length: 10 }, (_, i) => ({ path: `f${i}.js` }));
    expect((await inspectPackage(rawTarGz(entries), limits)).files).toHaveLength(10);
    await expect(inspectPackage(rawTarGz([...entries, { path: "lib", type: "Directory" }]), limits)).rejects.toThrow("more than 10 entries (the limit), at lib");
    const files = Object.fromEntries(Array.from({ length: 11 }, (_, i) => [`f${i}.js`, "x"]));
    await expect(inspectPackage(await zip(files), limits)).rejects.toThrow("holds 11 entries; the limit is 10");
  });

  it("holds packages to the unpacked size, counting bytes as they inflate", async () => {
    const limits = { ...PACKAGE_LIMITS, unpackedBytes: 1024 * 1024 };
    await expect(inspectPackage(rawTarGz([{ path: "big.bin", data: Buffer.alloc(1024 * 1024 + 1) }]), limits)).rejects.toThrow("unpacks to more than 1 MiB (the limit)");
    await expect(inspectPackage(await zip({ "big.bin": Buffer.alloc(1024 * 1024 + 1) }), limits)).rejects.toThrow("unpacks to more than 1 MiB (the limit)");
    expect((await inspectPackage(rawTarGz([{ path: "fits.bin", data: Buffer.alloc(1000 * 1024) }]), limits)).unpackedBytes).toBe(1000 * 1024);
  });

  it("stops a tar bomb at its header", async () => {
    const started = Date.now();
    // The header says 4 GiB; 8 GiB of zeros follow.
    const bomb = zerosAfter(tarStart([{ path: "index.js", size: 4 * 1024 ** 3 }]), 8192);
    await expect(inspectPackage(bomb)).rejects.toThrow("unpacks to more than 250 MiB (the limit)");
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it("reads a tar to its end and no further: what follows costs nothing", async () => {
    const started = Date.now();
    const padded = zerosAfter(Buffer.concat([tarStart([index]), Buffer.alloc(1024)]), 4096);
    expect(await inspectPackage(padded)).toMatchObject({ files: ["index.js"] });
    const dir = await mkdtemp(path.join(os.tmpdir(), "hearth-unit-"));
    try {
      await extractPackage(padded, dir);
      expect(await readFile(path.join(dir, "index.js"), "utf8")).toBe(index.data);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    // node-tar alone took 21 s for 32 MiB after the end; here 4 GiB follow.
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it("rejects links that leave the package, and keeps those that stay in it", async () => {
    const inside = [index, { path: "lib", type: "Directory" as const }, { path: "lib/link.js", type: "SymbolicLink" as const, linkpath: "../index.js" }, { path: "copy.js", type: "Link" as const, linkpath: "index.js" }];
    expect((await inspectPackage(rawTarGz(inside))).files).toEqual(["index.js"]);
    const outside = {
      "absolute symbolic link": { path: "passwd", type: "SymbolicLink", linkpath: "/etc/passwd" },
      "climbing symbolic link": { path: "lib/up", type: "SymbolicLink", linkpath: "../../secret" },
      "absolute hard link": { path: "shadow", type: "Link", linkpath: "/etc/shadow" },
      "climbing hard link": { path: "x", type: "Link", linkpath: "../x" },
    } as const;
    for (const [what, link] of Object.entries(outside)) {
      await expect(inspectPackage(rawTarGz([index, link])), what).rejects.toThrow(`link ${link.path} points outside the package (to "${link.linkpath}")`);
    }
    await expect(inspectPackage(rawTarGz([index, { path: "tty", type: "CharacterDevice" }]))).rejects.toThrow("entry tty is a CharacterDevice");
    await expect(inspectPackage(rawTarGz([{ path: "../index.js", data: "x" }]))).rejects.toThrow("escapes the package root: ../index.js");
  });

  it("reads a zip's data, so headers that lie about sizes are caught", async () => {
    const honest = await zip({ "index.js": index.data, "data.bin": Buffer.alloc(100_000, 1) });
    expect((await inspectPackage(honest)).unpackedBytes).toBe(index.data.length + 100_000);
    const lying = await lyingZip({ "index.js": index.data, "data.bin": Buffer.alloc(100_000, 1) }, "data.bin", 10);
    await expect(inspectPackage(lying)).rejects.toThrow(/entry data.bin is damaged: too many bytes/);
  });
});

describe("the package inspector (worker thread)", () => {
  it("answers what the inspection finds, problems included", async () => {
    expect(await inspectOffLoop(rawTarGz([index]))).toEqual({ format: "tar.gz", files: ["index.js"], unpackedBytes: index.data.length, executables: [] });
    await expect(inspectOffLoop(rawTarGz([index, { path: "x", type: "SymbolicLink", linkpath: "/" }]))).rejects.toThrow("points outside the package");
  });

  it("names the files a runtime could execute (a custom runtime's bootstrap), in tar.gz and zip", async () => {
    const files = { bootstrap: "#!/bin/sh\n", "data.txt": "x" };
    expect((await inspectOffLoop(await tarGz(files, { bootstrap: 0o755 }))).executables).toEqual(["bootstrap"]);
    expect((await inspectOffLoop(await zip(files, { bootstrap: 0o100750 }))).executables).toEqual(["bootstrap"]);
    expect((await inspectOffLoop(await zip(files))).executables).toEqual([]);
  });

  it("ends an inspection past its time limit", async () => {
    const bomb = zerosAfter(tarStart([{ path: "index.js", size: 200 * 1024 * 1024 }]), 256);
    await expect(inspectOffLoop(bomb, PACKAGE_LIMITS, 50)).rejects.toThrow("took longer than 0.05 s (the limit)");
    // The next one runs as usual.
    expect((await inspectOffLoop(rawTarGz([index]))).files).toEqual(["index.js"]);
  });
});
