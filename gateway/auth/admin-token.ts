// The admin key. HEARTH_ADMIN_TOKEN sets it. Without it, a Hearth on its embedded redis-server makes
// one on its first start and keeps it in its data directory (mode 0600), where the operator reads it;
// later starts reuse it. With REDIS_URL, several gateways must share one admin key, which a file on
// one machine cannot give them: the API then refuses to start without HEARTH_ADMIN_TOKEN.

import { randomBytes } from "node:crypto";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";

/** Shortest admin token Hearth accepts (config.ts checks HEARTH_ADMIN_TOKEN against it too). */
export const MIN_ADMIN_TOKEN_LENGTH = 16;

export interface AdminToken {
  token: string;
  /** Where a generated token is kept (undefined when it came from HEARTH_ADMIN_TOKEN). */
  file?: string;
}

export async function resolveAdminToken(settings: { adminToken?: string; redis?: unknown; dataDir: string }): Promise<AdminToken> {
  if (settings.adminToken) return { token: settings.adminToken };
  if (settings.redis) {
    throw new Error("HEARTH_ADMIN_TOKEN is required with REDIS_URL or REDIS_SENTINELS: every gateway on that Redis must share the admin key");
  }
  const file = path.resolve(settings.dataDir, "admin-token");
  return { token: await readOrCreate(file), file };
}

async function readOrCreate(file: string): Promise<string> {
  await mkdir(path.dirname(file), { recursive: true });
  try {
    // "wx": two processes starting at once never overwrite each other's token.
    await writeFile(file, `${randomBytes(32).toString("base64url")}\n`, { mode: 0o600, flag: "wx" });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
  }
  const token = (await readFile(file, "utf8")).trim();
  if (token.length < MIN_ADMIN_TOKEN_LENGTH) throw new Error(`${file} holds no admin token (at least ${MIN_ADMIN_TOKEN_LENGTH} characters); delete it to have a new one made`);
  return token;
}
