// Async invocation from the caller's side: accept (202 once the record and envelope are in Redis),
// read the record, cancel one not yet taken. Containers settle them (settle-async-invocation.lua).

import type { Redis } from "ioredis";
import { HearthError } from "../errors.js";
import type { FunctionCache } from "../functions/function-cache.js";
import { queueForCurrentVersion } from "../invocation/queue-outcome.js";
import { functionKeys, functionOfInvocation, invocationRecordKey, newInvocationId } from "../protocol/keys.js";
import { scripts } from "../protocol/scripts.js";
import { invocationView, type InvocationView } from "./invocation-record.js";

/** A request that Redis has not taken by then is answered 503 (it may still be queued: see Idempotency-Key). */
const ACCEPT_TIMEOUT_MS = 5_000;

export interface AcceptOptions {
  /** The same key on a repeated request returns the first request's invocation id. */
  idempotencyKey?: string;
  /** Where the outcome is POSTed once the invocation has finished. */
  callbackUrl?: string;
  /** The Redis Stream entry that triggered it, acknowledged once it is settled. */
  source?: { stream: string; group: string; entry: string };
}

export interface Accepted {
  id: string;
  /** An earlier request with the same Idempotency-Key was accepted as this id. */
  duplicate: boolean;
}

export class AsyncInvocations {
  constructor(
    private readonly redis: Redis,
    private readonly functions: FunctionCache,
    private readonly retentionMs: number,
  ) {}

  async accept(name: string, payload: Buffer, options: AcceptOptions = {}): Promise<Accepted> {
    checkIdempotencyKey(options.idempotencyKey);
    checkCallbackUrl(options.callbackUrl);
    // Nothing is sent while Redis is away: the caller hears 503 now, not after ioredis' reconnects.
    if (this.redis.status !== "ready") throw new HearthError(503, "Hearth.Unavailable", "Redis is not reachable; the invocation was not accepted");
    const id = newInvocationId(name);
    const keys = functionKeys(name);
    const outcome = await queueForCurrentVersion(
      this.functions,
      name,
      (definition) => {
        const scriptKeys = [keys.def, keys.queue, keys.containers, keys.asyncQueued, keys.retries, keys.invocation(id)];
        if (options.idempotencyKey) scriptKeys.push(keys.idempotencyPrefix + options.idempotencyKey);
        const run = scripts.enqueueAsyncInvocation.run(this.redis, scriptKeys, [
          id,
          payload,
          definition.version,
          name,
          Date.now(),
          this.retentionMs,
          options.callbackUrl ?? "",
          options.idempotencyKey ?? "",
          options.source ? JSON.stringify(options.source) : "",
        ]);
        return withTimeout(run, ACCEPT_TIMEOUT_MS, "Redis did not answer in time");
      },
      "async invocations",
    );
    return outcome[0] === "duplicate" ? { id: outcome[1], duplicate: true } : { id, duplicate: false };
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
    const [outcome, status] = (await scripts.cancelInvocation.run(
      this.redis,
      [keys.invocation(id), keys.queue, keys.asyncQueued, keys.retries],
      [id, Date.now(), this.retentionMs],
    )) as [string, string?];
    if (outcome === "missing") throw invocationNotFound(id);
    if (outcome === "conflict") throw new HearthError(409, "InvocationNotCancellable", `invocation ${id} is ${status}: only a queued invocation can be cancelled`);
    return (await this.get(id))!;
  }
}

export function invocationNotFound(id: string): HearthError {
  return new HearthError(404, "InvocationNotFound", `no invocation ${id} (unknown, or its record has expired)`);
}

function checkIdempotencyKey(key: string | undefined): void {
  if (key !== undefined && !/^[\x21-\x7e]{1,255}$/.test(key)) {
    throw new HearthError(400, "InvalidIdempotencyKey", "Idempotency-Key is 1-255 printable ASCII characters without spaces");
  }
}

function checkCallbackUrl(url: string | undefined): void {
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
}

function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([promise, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(message)), ms)))]).finally(() => clearTimeout(timer));
}
