// Turns a presented secret into a Caller. The admin token is compared in memory (in constant time);
// stored keys are looked up by the hash of the secret once and then kept in memory, so a warm
// invocation pays no Redis round trip for its key. A revocation empties the cache of every gateway
// at once (key-revoked event); the TTL bounds what a missed event could leave behind.

import { createHash, timingSafeEqual } from "node:crypto";
import type { RedisClient } from "../redis/connections.js";
import { findKeyByHash } from "./keys.js";
import { ADMIN_CALLER, type Caller } from "./scopes.js";

const VERIFIED_TTL_MS = 30_000;

interface Verified {
  caller: Promise<Caller | undefined>;
  expiresAt: number;
}

export class Authenticator {
  private readonly adminDigest: Buffer;
  /** By the SHA-256 (hex) of the secret; only keys that exist stay here. */
  private readonly verified = new Map<string, Verified>();

  constructor(
    private readonly redis: RedisClient,
    adminToken: string,
    private readonly ttlMs = VERIFIED_TTL_MS,
  ) {
    this.adminDigest = digest(adminToken);
  }

  /** The caller a secret belongs to; undefined for an unknown or revoked one. */
  authenticate(secret: string): Promise<Caller | undefined> {
    const presented = digest(secret);
    if (timingSafeEqual(presented, this.adminDigest)) return Promise.resolve(ADMIN_CALLER);
    const hash = presented.toString("hex");
    const cached = this.verified.get(hash);
    if (cached && cached.expiresAt > Date.now()) return cached.caller;
    const entry: Verified = {
      caller: findKeyByHash(this.redis, hash).then((key) => key && { id: key.id, scopes: key.scopes, functions: key.functions }),
      expiresAt: Date.now() + this.ttlMs,
    };
    this.verified.set(hash, entry);
    // Unknown secrets are not remembered: a caller sending garbage must not grow this map.
    const forget = (): void => void (this.verified.get(hash) === entry && this.verified.delete(hash));
    entry.caller.then((caller) => caller === undefined && forget(), forget);
    return entry.caller;
  }

  /** Drops every verified key: called on a revocation (rare), so that none outlives it. */
  forgetAll(): void {
    this.verified.clear();
  }
}

function digest(secret: string): Buffer {
  return createHash("sha256").update(secret).digest();
}
