import { randomUUID } from "node:crypto";

// Every key of a function carries the hash tag {name}, so one function's keys share a Redis Cluster
// slot and each Lua script touches a single slot.

export const EVENTS_CHANNEL = "hearth:events";
export const FUNCTIONS_INDEX = "hearth:functions";
/** The bytes of every function's code package together (the HEARTH_MAX_TOTAL_CODE_BYTES quota). */
export const CODE_BYTES = "hearth:code-bytes";
/** The containers every function keeps warm together, the sum of their `minWarm` (the HEARTH_MAX_TOTAL_MIN_WARM quota). */
export const MIN_WARM_TOTAL = "hearth:min-warm";

export interface FunctionKeys {
  /** The glob of every key of the function (its containers' Redis users may touch these only). */
  pattern: string;
  def: string;
  /** Counts deploys; kept when the function is deleted so versions never repeat. */
  versions: string;
  codePrefix: string;
  queue: string;
  containers: string;
  /** Idle containers' ids, the most recently idle first: work goes to the first (container-lifecycle.ts). */
  idle: string;
  /** + a container id: the list a container waits on for work handed to it (or a wake-up). */
  inboxPrefix: string;
  draining: string;
  /** Async invocations waiting in `queue` (id → when they entered it): depth, age, backpressure, cancel. */
  asyncQueued: string;
  /** Failed async invocations waiting for their next attempt (id → when it is due). */
  retries: string;
  /** Async invocations that used up their retries (id → when they died). */
  deadLetters: string;
  /** Results to POST to an async invocation's callback URL (id → when the next try is due). */
  callbacks: string;
  /** Counters kept in Redis because containers and invokers change them: retries, deadLettered, callbackFailures. */
  stats: string;
  /** Redis Streams the function is subscribed to (stream → subscription JSON). */
  streams: string;
  /** The function's log lines (a Redis Stream, fields t, i, s, m), bounded by count and age. */
  logs: string;
  /** Its recent invocations, newest first (a list of JSON entries, bounded by count). */
  history: string;
  /** + an async invocation id: its record (hash). Inside the slot, so containers reach it with their function's keys only. */
  invocationPrefix: string;
  invocation(id: string): string;
  /**
   * + an Idempotency-Key: the fingerprint of the request first accepted with it, and its invocation id.
   * The function's (its slot), so a key stands for one request to this function.
   */
  idempotency(key: string): string;
  code(sha256: string): string;
  running(containerId: string): string;
  inbox(containerId: string): string;
}

export function functionKeys(name: string): FunctionKeys {
  const base = `hearth:{${name}}`;
  return {
    pattern: `${base}:*`,
    def: `${base}:def`,
    versions: `${base}:versions`,
    codePrefix: `${base}:code:`,
    queue: `${base}:queue`,
    containers: `${base}:containers`,
    idle: `${base}:idle`,
    inboxPrefix: `${base}:inbox:`,
    draining: `${base}:draining`,
    asyncQueued: `${base}:async-queued`,
    retries: `${base}:retries`,
    deadLetters: `${base}:dead-letters`,
    callbacks: `${base}:callbacks`,
    stats: `${base}:stats`,
    streams: `${base}:streams`,
    logs: `${base}:logs`,
    history: `${base}:history`,
    invocationPrefix: `${base}:invocation:`,
    invocation: (id) => `${base}:invocation:${id}`,
    idempotency: (key) => `${base}:idempotency:${key}`,
    code: (sha256) => `${base}:code:${sha256}`,
    running: (containerId) => `${base}:running:${containerId}`,
    inbox: (containerId) => `${base}:inbox:${containerId}`,
  };
}

/** The consumer group through which a function reads each Redis Stream it is subscribed to. */
export function streamGroup(fn: string): string {
  return `hearth:${fn}`;
}

/**
 * Invoker id → when its heartbeat expires (epoch ms), for the metrics: an entry past its time is an
 * invoker lost without stopping (a graceful stop removes its entry). Trimmed by every beat.
 */
export const INVOKER_BEATS = "hearth:invoker-beats";

/** Exists while the invoker of that id is alive (refreshed with a TTL). */
export function invokerAliveKey(invokerId: string): string {
  return `hearth:invokers:${invokerId}`;
}

/**
 * API keys, in one slot of their own: the index (key id → record, for listing and revocation) and,
 * per key, the record under the SHA-256 of its secret (for lookup). The secret itself is never stored.
 */
export const API_KEYS_INDEX = "hearth:{keys}:index";
export const API_KEY_SECRET_PREFIX = "hearth:{keys}:secret:";

/** The list a gateway process reads its results from. */
export function repliesKey(gatewayId: string): string {
  return `hearth:replies:{${gatewayId}}`;
}

/**
 * An invocation id (sync and async alike) names its function (`<function>.<uuid>`), so that
 * /invocations/:id finds the record, logs and history inside that function's slot. Function names hold no dot.
 */
export function newInvocationId(fn: string): string {
  return `${fn}.${randomUUID()}`;
}

const INVOCATION_ID = /^([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)\.[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** The function of a well-formed invocation id, or undefined. */
export function functionOfInvocation(id: string): string | undefined {
  return INVOCATION_ID.exec(id)?.[1];
}

/** The record key of an invocation id, or undefined when the id is malformed. */
export function invocationRecordKey(id: string): string | undefined {
  const fn = functionOfInvocation(id);
  return fn === undefined ? undefined : functionKeys(fn).invocation(id);
}
