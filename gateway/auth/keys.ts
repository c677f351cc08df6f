// API keys in Redis: created (the secret is answered once and stored only as its SHA-256), listed,
// revoked, and looked up by the hash of a presented secret. Secrets are 256 random bits, so a fast
// hash is enough: nothing can be guessed from it.

import { createHash, randomBytes } from "node:crypto";
import type { RedisClient } from "../redis/connections.js";
import { HearthError } from "../errors.js";
import { API_KEY_SECRET_PREFIX, API_KEYS_INDEX } from "../protocol/keys.js";
import { createApiKey, revokeApiKey } from "../protocol/api-key-scripts.js";
import { keyRequestSchema } from "./key-schema.js";
import type { Scope } from "./scopes.js";

/** A key as GET /system/keys shows it: no secret, no hash. */
export interface ApiKey {
  id: string;
  name: string;
  scopes: Scope[];
  functions: string[];
  createdAt: string;
}

interface StoredKey extends ApiKey {
  secretSha256: string;
}

export interface CreatedKey extends ApiKey {
  /** The secret, answered this once: Authorization: Bearer <key>. */
  key: string;
}

export function sha256Hex(secret: string): string {
  return createHash("sha256").update(secret).digest("hex");
}

export async function createKey(redis: RedisClient, input: unknown): Promise<CreatedKey> {
  const parsed = keyRequestSchema.safeParse(input);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join(".") || "body"}: ${issue.message}`);
    throw new HearthError(400, "InvalidKeyRequest", problems.join("; "));
  }
  for (;;) {
    const id = randomBytes(8).toString("hex");
    // The prefix tells a leaked secret for a Hearth key (secret scanners, logs); the rest is 256 random bits.
    const secret = `hearth_${randomBytes(32).toString("base64url")}`;
    const stored: StoredKey = { id, ...parsed.data, createdAt: new Date().toISOString(), secretSha256: sha256Hex(secret) };
    const created = await createApiKey.run(redis, { id, secretSha256: stored.secretSha256, recordJson: JSON.stringify(stored) });
    if (created) return { ...publicView(stored), key: secret };
  }
}

export async function listKeys(redis: RedisClient): Promise<ApiKey[]> {
  const records = Object.values(await redis.hgetall(API_KEYS_INDEX));
  return records.map((record) => publicView(JSON.parse(record) as StoredKey)).sort((a, b) => a.createdAt.localeCompare(b.createdAt));
}

/** True when a key of that id existed; every gateway forgets it at once (key-revoked event). */
export async function revokeKey(redis: RedisClient, id: string): Promise<boolean> {
  return revokeApiKey.run(redis, { id });
}

/** The key whose secret hashes to this, if it exists. */
export async function findKeyByHash(redis: RedisClient, secretSha256: string): Promise<ApiKey | undefined> {
  const record = await redis.get(API_KEY_SECRET_PREFIX + secretSha256);
  return record ? publicView(JSON.parse(record) as StoredKey) : undefined;
}

function publicView({ id, name, scopes, functions, createdAt }: StoredKey): ApiKey {
  return { id, name, scopes, functions, createdAt };
}
