// The code package `hearth deploy` makes: gitignore's rules from .hearthignore, the deploy's own files left out.

import { mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { Parser } from "tar";
import { afterEach, describe, expect, it } from "vitest";
import { packFolder } from "../../cli/pack.js";

let dir: string;

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function folder(files: Record<string, string>): Promise<string> {
  dir = await mkdtemp(path.join(os.tmpdir(), "hearth-pack-"));
  for (const [file, content] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(dir, file)), { recursive: true });
    await writeFile(path.join(dir, file), content);
  }
  return dir;
}

/** The package's entries: path and type (File, Directory, SymbolicLink). */
async function entries(archive: Buffer): Promise<string[]> {
  const found: string[] = [];
  const parser = new Parser({ onReadEntry: (entry) => { found.push(`${entry.path} ${entry.type}`); entry.resume(); } });
  await pipeline(Readable.from([archive]), parser);
  return found.sort();
}

describe("packFolder", () => {
  it("applies .hearthignore with gitignore's rules: globs, negations, anchored and directory-only patterns", async () => {
    const root = await folder({
      "index.js": "",
      "debug.log": "",
      "keep.log": "",
      "build/out.js": "",
      "src/build/kept.js": "",
      "docs/a/b/notes.md": "",
      "docs/readme.txt": "",
      "sub/hearth.json": "{}",
      "hearth.json": "{}",
      ".git/config": "",
      ".hearthignore": "*.log\n!keep.log\n/build/\ndocs/**/*.md\n",
    });
    await symlink("index.js", path.join(root, "alias.js"));
    expect(await entries((await packFolder(root))!)).toEqual([
      "alias.js SymbolicLink",
      "docs/ Directory",
      "docs/a/ Directory",
      "docs/a/b/ Directory",
      "docs/readme.txt File",
      "index.js File",
      "keep.log File",
      "src/ Directory",
      "src/build/ Directory",
      "src/build/kept.js File",
      "sub/ Directory",
      "sub/hearth.json File",
    ]);
  });

  it("answers nothing for a folder whose every file is ignored", async () => {
    expect(await packFolder(await folder({ "hearth.json": "{}", "a.tmp": "", ".hearthignore": "*.tmp\n" }))).toBeUndefined();
  });
});
