// The function's unpacked code stays as deployed: nothing under the task root is writable once it is
// unpacked (Lambda's /var/task is a read-only file system). Effective against a runtime that runs as
// another user than the adapter, which owns the files.

import { chmod, lstat, readdir } from "node:fs/promises";
import path from "node:path";

const NO_WRITE = ~0o222;

/** Takes every write bit off the files and folders under root, and off root itself (symbolic links are left as they are). */
export async function makeReadOnly(root: string): Promise<void> {
  const entries = await readdir(root, { recursive: true, withFileTypes: true });
  const paths = entries.filter((entry) => !entry.isSymbolicLink()).map((entry) => path.join(entry.parentPath, entry.name));
  await Promise.all([...paths, root].map(removeWriteBits));
}

async function removeWriteBits(file: string): Promise<void> {
  const { mode } = await lstat(file);
  await chmod(file, mode & 0o7777 & NO_WRITE);
}
