// Async invocation from the caller's side: accept (202 once the record and envelope are in Redis),
// read the record, cancel one not yet taken. Containers settle them (settle-async-invocation.lua).

import { createHash } from "node:crypto";
import type { RedisClient } from "../redis/connections.js";
import { HearthError } from "../errors.js";
import type { ReplicatedWrites } from "../redis/replicated-writes.js";
import type { FunctionCache } from "../functions/function-cache.js";
import { queueForCurrentVersion } from "../invocation/queue-outcome.js";
import { functionKeys, functionOfInvocation, invocationRecordKey, newInvocationId } from "../protocol/keys.js";
import { cancelInvocation, enqueueAsyncInvocation } from "../protocol/async-lifecycle.js";
import { xackSources, type StreamSource } from "../protocol/stream-sources.js";
import type { CallbackDestinations } from "./callback-destinations.js";
import { invocationView, type InvocationView } from "./invocation-record.js";

/** A request that Redis has not taken by then is answered 503 (it may still be queued: see Idempotency-Key). */
const ACCEPT_TIMEOUT_MS = 5_000;

/** Idempotency keys that begin so are Hearth's own: a stream trigger's, one per function and entry. */
const STREAM_KEY_PREFIX = "stream:";

export interface AcceptOptions {
  /**
   * Who asks: an API key's id, "anonymous", or Hearth itself (stream triggers). An Idempotency-Key
   * answers with the first invocation only the caller that set it, for the same request.
   */
  caller: string;
  /** How the request's body became the payload: the same bytes as JSON event or raw are two requests. */
  integration: "json" | "raw";
  /**
   * The same key on a repeated request returns the first request's invocation id; on another request
   * (function, integration, payload, callback URL or caller differ) it answers 422. Keys are global.
   */
  idempotencyKey?: string;
  /** Where the outcome is POSTed once the invocation has finished. */
  callbackUrl?: string;
  /** The Redis Stream entry that triggered it, acknowledged once it is final. */
  source?: StreamSource;
}

export interface Accepted {
  id: string;
  /** An earlier request with the same Idempotency-Key was accepted as this id. */
  duplicate: boolean;
}

export class AsyncInvocations {
  constructor(
    private readonly redis: RedisClient,
    private readonly functions: FunctionCache,
    private readonly retentionMs: number,
    private readonly callbackDestinations: CallbackDestinations,
    /** Where accepts are written, and confirmed on replicas before the 202. */
    private readonly accepts: ReplicatedWrites,
  ) {}

  async accept(name: string, payload: Buffer, options: AcceptOptions): Promise<Accepted> {
    if (!options.source) checkIdempotencyKey(options.idempotencyKey);
    this.checkCallbackUrl(options.callbackUrl);
    // Nothing is sent while Redis is away: the caller hears 503 now, not after ioredis' reconnects.
    if (this.accepts.connection.status !== "ready") throw new HearthError(503, "Hearth.Unavailable", "Redis is not reachable; the invocation was not accepted");
    const id = newInvocationId(name);
    const keys = functionKeys(name);
    const outcome = await queueForCurrentVersion(
      this.functions,
      name,
      (definition) => {
        const key = options.idempotencyKey;
        const run = enqueueAsyncInvocation.run(this.accepts.connection, {
          keys,
          fn: name,
          id,
          payload,
          expectedVersion: definition.version,
          now: Date.now(),
          retentionMs: this.retentionMs,
          callbackUrl: options.callbackUrl,
          idempotency: key === undefined ? undefined : { key, fingerprint: requestFingerprint(name, payload, options) },
          sourceJson: options.source ? JSON.stringify(options.source) : undefined,
        });
        return withTimeout(run, ACCEPT_TIMEOUT_MS, "Redis did not answer in time");
      },
      "async invocations",
    ).catch(async (error: unknown) => {
      // Counted with the outcomes the containers count (readPoolStatus): throttled is the gateway's to see.
      if (error instanceof HearthError && error.status === 429) await this.redis.hincrby(keys.stats, "async:throttled", 1).catch(() => undefined);
      throw error;
    });
    if (outcome[0] === "mismatch") {
      throw new HearthError(
        422,
        "IdempotencyKeyMismatch",
        `Idempotency-Key ${options.idempotencyKey} was used for another request to this function (body, integration, callback URL or caller differ); use a new key for a new request`,
      );
    }
    const accepted = outcome[0] === "duplicate" ? { id: outcome[1], duplicate: true } : { id, duplicate: false };
    // A retry with the same Idempotency-Key answers this id (once confirmed) without running it twice.
    await this.accepts.confirm(`invocation ${accepted.id}`, keys.def);
    return accepted;
  }

  /** 400 for a URL that is no http(s) URL, or that names a host the callback policy refuses. */
  private checkCallbackUrl(url: string | undefined): void {
    if (url === undefined) return;
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new HearthError(400, "InvalidCallbackUrl", `X-Callback-Url is not a URL: ${JSON.stringify(url)}`);
    }
    if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
      throw new HearthError(400, "InvalidCallbackUrl", `X-Callback-Url must be http or https, got ${parsed.protocol}`);
    }
    const refused = this.callbackDestinations.refusal(parsed);
    if (refused) {
      throw new HearthError(400, "InvalidCallbackUrl", `X-Callback-Url may not point at ${refused}: callbacks go to the hosts HEARTH_CALLBACK_ALLOW lists, or to public addresses`);
    }
  }

  /** The record of an invocation id; undefined for an unknown, expired or malformed one. */
  async get(id: string): Promise<InvocationView | undefined> {
    const key = invocationRecordKey(id);
    return key === undefined ? undefined : invocationView(await this.redis.hgetallBuffer(key));
  }

  /** Cancels an invocation no container has taken; 404 for an unknown id, 409 once it has started. */
  async cancel(id: string): Promise<InvocationView> {
    const fn = functionOfInvocation(id);
    if (fn === undefined) throw invocationNotFound(id);
    const keys = functionKeys(fn);
    const outcome = await cancelInvocation.run(this.redis, { keys, id, now: Date.now(), retentionMs: this.retentionMs });
    if (outcome.kind === "missing") throw invocationNotFound(id);
    if (outcome.kind === "conflict") throw new HearthError(409, "InvocationNotCancellable", `invocation ${id} is ${outcome.status}: only a queued invocation can be cancelled`);
    // Cancelled is final: its stream entry, if any, is done with. One this fails to acknowledge stays
    // pending until the stream's reader claims it and, finding it cancelled, acknowledges it.
    await xackSources(() => this.redis, outcome.sources).catch(() => undefined);
    return (await this.get(id))!;
  }
}

export function invocationNotFound(id: string): HearthError {
  return new HearthError(404, "InvocationNotFound", `no invocation ${id} (unknown, or its record has expired)`);
}

/**
 * What an Idempotency-Key stands for: SHA-256 over who asked and everything that makes the
 * invocation (function, integration, callback URL, payload bytes). JSON frames the strings, so no two
 * requests share an encoding.
 */
function requestFingerprint(name: string, payload: Buffer, options: Pick<AcceptOptions, "caller" | "integration" | "callbackUrl">): string {
  const framing = JSON.stringify([options.caller, name, options.integration, options.callbackUrl ?? null]);
  return createHash("sha256").update(framing).update("\n").update(payload).digest("hex");
}

/** A stream entry's idempotency key: one invocation per function and entry. */
export function streamEntryKey(fn: string, stream: string, entry: string): string {
  return `${STREAM_KEY_PREFIX}${fn}:${stream}:${entry}`;
}

function checkIdempotencyKey(key: string | undefined): void {
  if (key === undefined) return;
  if (!/^[\x21-\x7e]{1,255}$/.test(key)) {
    throw new HearthError(400, "InvalidIdempotencyKey", "Idempotency-Key is 1-255 printable ASCII characters without spaces");
  }
  if (key.startsWith(STREAM_KEY_PREFIX)) {
    throw new HearthError(400, "InvalidIdempotencyKey", `Idempotency-Keys beginning "${STREAM_KEY_PREFIX}" are Hearth's own (stream triggers)`);
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([promise, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(message)), ms)))]).finally(() => clearTimeout(timer));
}
