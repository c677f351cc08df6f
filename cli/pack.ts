// The code package of a function folder: a tar.gz of its files, less what `.hearthignore` names (gitignore syntax).

import { readdir, readFile } from "node:fs/promises";
import path from "node:path";
import ignore, { type Ignore } from "ignore";
import { create } from "tar";

export const IGNORE_FILE = ".hearthignore";
export const SETTINGS_FILE = "hearth.json";

/** Never packed: version control, and the deploy's own files (hearth.json may name environment secrets). */
const ALWAYS_IGNORED = [".git/", `/${IGNORE_FILE}`, `/${SETTINGS_FILE}`];

/** The package, or undefined when nothing in the folder is left to pack. */
export async function packFolder(dir: string): Promise<Buffer | undefined> {
  const rules = ignore().add(ALWAYS_IGNORED).add(await readIgnoreFile(dir));
  const top = (await readdir(dir, { withFileTypes: true })).filter((entry) => !ignored(rules, entry.name, entry.isDirectory())).map((entry) => entry.name);
  if (top.length === 0) return undefined;
  const chunks: Buffer[] = [];
  // tar walks each directory itself and asks the filter about every path under it (relative to cwd).
  const stream = create({ gzip: true, cwd: dir, portable: true, filter: (entry, stat) => !ignored(rules, entry, "isDirectory" in stat && stat.isDirectory()) }, top.sort());
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

async function readIgnoreFile(dir: string): Promise<string> {
  try {
    return await readFile(path.join(dir, IGNORE_FILE), "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return "";
    throw error;
  }
}

/** gitignore patterns ending in `/` match directories only, which `ignore` sees by a trailing slash. */
function ignored(rules: Ignore, entry: string, isDirectory: boolean): boolean {
  const relative = entry.split(path.sep).join("/").replace(/^\.\//, "");
  return rules.ignores(isDirectory ? `${relative}/` : relative);
}
