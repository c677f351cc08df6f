// Where Hearth is and which key to use: HEARTH_URL and HEARTH_TOKEN, else what `hearth login` stored.

import { chmod, mkdir, readFile, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { CliError } from "./errors.js";

export const DEFAULT_URL = "http://127.0.0.1:8080";

export interface Connection {
  url: string;
  token?: string;
}

/** `$XDG_CONFIG_HOME/hearth/config.json`, or `~/.config/hearth/config.json`. */
export function configFile(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_CONFIG_HOME || path.join(env.HOME || os.homedir(), ".config");
  return path.join(base, "hearth", "config.json");
}

export async function readStoredConnection(file = configFile()): Promise<Partial<Connection>> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return {};
    throw new CliError(`cannot read ${file}: ${(error as Error).message}`);
  }
  try {
    const stored = JSON.parse(text) as Partial<Connection>;
    return { url: typeof stored.url === "string" ? stored.url : undefined, token: typeof stored.token === "string" ? stored.token : undefined };
  } catch {
    throw new CliError(`${file} is not JSON: run hearth login again`);
  }
}

/** The file holds a secret: only its owner may read it (the directory too, as it is created). */
export async function storeConnection(connection: Connection, file = configFile()): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  await writeFile(file, `${JSON.stringify(connection, null, 2)}\n`, { mode: 0o600 });
  // writeFile's mode applies to a new file only; an older file may have been readable by others.
  await chmod(file, 0o600);
}

/** The environment wins over the stored login, so that one shell can point elsewhere for a while. */
export async function resolveConnection(env: NodeJS.ProcessEnv = process.env): Promise<Connection> {
  const stored = env.HEARTH_URL && env.HEARTH_TOKEN ? {} : await readStoredConnection(configFile(env));
  const url = env.HEARTH_URL || stored.url || DEFAULT_URL;
  return { url: url.replace(/\/+$/, ""), token: env.HEARTH_TOKEN || stored.token };
}
