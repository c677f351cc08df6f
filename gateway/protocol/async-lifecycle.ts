// An async invocation's life in Redis, in one place: the statuses of its record, the transitions, and
// the script that makes each (its binding below). Its work goes through the container pool
// (container-lifecycle.ts) as sync work does.

import { EVENTS_CHANNEL, type FunctionKeys } from "./keys.js";
import type { QueueOutcome } from "./container-lifecycle.js";
import { defineScript } from "./scripts.js";
import { decodeSources, type StreamSource } from "./stream-sources.js";
import { stateDiagram, type Transition } from "./state-diagram.js";
import enqueueAsyncInvocationSource from "./lua/enqueue-async-invocation.lua";
import startAsyncInvocationSource from "./lua/start-async-invocation.lua";
import settleAsyncInvocationSource from "./lua/settle-async-invocation.lua";
import promoteDueRetriesSource from "./lua/promote-due-retries.lua";
import cancelInvocationSource from "./lua/cancel-invocation.lua";
import redriveDeadLettersSource from "./lua/redrive-dead-letters.lua";
import purgeDeadLettersSource from "./lua/purge-dead-letters.lua";
import claimDueCallbacksSource from "./lua/claim-due-callbacks.lua";
import settleCallbackSource from "./lua/settle-callback.lua";

export type AsyncStatus = "queued" | "running" | "succeeded" | "failed" | "dead-lettered" | "cancelled";

export const ASYNC_TRANSITIONS: readonly Transition<AsyncStatus>[] = [
  { from: "none", to: "queued", script: "enqueue-async-invocation", when: "accepted (202)" },
  { from: "queued", to: "running", script: "start-async-invocation", when: "a container starts it" },
  { from: "queued", to: "cancelled", script: "cancel-invocation", when: "cancelled before a container took it" },
  { from: "running", to: "succeeded", script: "settle-async-invocation", when: "the handler answered" },
  { from: "running", to: "queued", script: "settle-async-invocation", when: "failed, retries left: due after a backoff (promote-due-retries hands it back)" },
  { from: "running", to: "dead-lettered", script: "settle-async-invocation", when: "failed, no retries left" },
  { from: "running", to: "queued", script: "release-container", when: "its container died, retries left" },
  { from: "running", to: "dead-lettered", script: "release-container", when: "its container died, no retries left" },
  { from: "queued", to: "failed", script: "delete-function", when: "its function was deleted" },
  { from: "dead-lettered", to: "queued", script: "redrive-dead-letters", when: "re-driven, with a fresh retry budget" },
];

export function asyncStatusDiagram(): string {
  return stateDiagram(ASYNC_TRANSITIONS, ["succeeded", "failed", "dead-lettered", "cancelled"]);
}

/** The keys of the pool scripts queueAsync (includes/async.lua) hands work to, in its order. */
function dispatchKeys(keys: FunctionKeys): string[] {
  return [keys.def, keys.queue, keys.containers, keys.idle, keys.asyncQueued];
}

export interface EnqueueAsyncInput {
  keys: FunctionKeys;
  fn: string;
  id: string;
  payload: Buffer;
  expectedVersion: number;
  now: number;
  retentionMs: number;
  callbackUrl?: string;
  /** The Idempotency-Key, with the fingerprint of the request. */
  idempotency?: { key: string; fingerprint: string };
  /** JSON of the Redis Stream entry that triggered it. */
  sourceJson?: string;
}

export const enqueueAsyncInvocation = defineScript<EnqueueAsyncInput, QueueOutcome>({
  source: enqueueAsyncInvocationSource,
  call: (input) => {
    const { keys } = input;
    const scriptKeys = [...dispatchKeys(keys), keys.retries, keys.invocation(input.id)];
    if (input.idempotency) scriptKeys.push(keys.idempotency(input.idempotency.key));
    return {
      keys: scriptKeys,
      args: [
        input.id,
        input.payload,
        input.expectedVersion,
        input.now,
        input.retentionMs,
        input.callbackUrl ?? "",
        input.idempotency?.key ?? "",
        input.sourceJson ?? "",
        input.idempotency?.fingerprint ?? "",
        input.fn,
        EVENTS_CHANNEL,
        keys.inboxPrefix,
      ],
    };
  },
  decode: (raw) => raw as QueueOutcome,
});

export const startAsyncInvocation = defineScript<{ keys: FunctionKeys; id: string; containerId: string; now: number }, void>({
  source: startAsyncInvocationSource,
  call: ({ keys, id, containerId, now }) => ({ keys: [keys.asyncQueued, keys.invocation(id)], args: [id, containerId, now] }),
  decode: () => undefined,
});

export interface SettleAsyncInput {
  keys: FunctionKeys;
  fn: string;
  id: string;
  containerId: string;
  statusCode: number;
  result: Buffer | string;
  now: number;
  retentionMs: number;
  /** protocol/outcome.ts, for the metrics. */
  outcome: string;
  runMs: number;
}

export interface Settled {
  /** False when the container's running list was already taken over (released): the release's retry settles it. */
  taken: boolean;
  /** The stream entry the invocation came from, when this made it final: the caller acknowledges it. */
  sources: StreamSource[];
}

export const settleAsyncInvocation = defineScript<SettleAsyncInput, Settled>({
  source: settleAsyncInvocationSource,
  call: (input) => {
    const { keys } = input;
    return {
      keys: [keys.def, keys.running(input.containerId), keys.retries, keys.deadLetters, keys.callbacks, keys.stats, keys.invocation(input.id)],
      args: [input.id, input.statusCode, input.result, input.now, Math.random(), input.retentionMs, input.fn, input.outcome, input.runMs, EVENTS_CHANNEL],
    };
  },
  decode: (raw) => {
    const [taken, sources] = raw as [number, string[]];
    return { taken: taken === 1, sources: decodeSources(sources) };
  },
});

/** Returns when the next retry still waiting is due (epoch ms), if one is. */
export const promoteDueRetries = defineScript<{ keys: FunctionKeys; fn: string; now: number; maxCount: number }, number | undefined>({
  source: promoteDueRetriesSource,
  call: ({ keys, fn, now, maxCount }) => ({
    keys: [...dispatchKeys(keys), keys.retries],
    args: [now, keys.invocationPrefix, maxCount, fn, EVENTS_CHANNEL, keys.inboxPrefix],
  }),
  decode: (raw) => (raw === null ? undefined : Number(raw)),
});

/** Cancelled: with the stream entry it came from, if any, for the caller to acknowledge. */
export type CancelOutcome = { kind: "cancelled"; sources: StreamSource[] } | { kind: "missing" } | { kind: "conflict"; status: string };

export const cancelInvocation = defineScript<{ keys: FunctionKeys; id: string; now: number; retentionMs: number }, CancelOutcome>({
  source: cancelInvocationSource,
  call: ({ keys, id, now, retentionMs }) => ({ keys: [keys.invocation(id), keys.queue, keys.asyncQueued, keys.retries], args: [id, now, retentionMs] }),
  decode: (raw) => {
    const [kind, detail] = raw as [string, unknown];
    if (kind === "conflict") return { kind, status: detail as string };
    if (kind === "cancelled") return { kind, sources: decodeSources(detail) };
    return { kind: "missing" };
  },
});

/** Returns the ids re-driven. */
export const redriveDeadLetters = defineScript<{ keys: FunctionKeys; fn: string; now: number; maxCount: number; ids: string[] }, string[]>({
  source: redriveDeadLettersSource,
  call: ({ keys, fn, now, maxCount, ids }) => ({
    keys: [...dispatchKeys(keys), keys.deadLetters],
    args: [now, keys.invocationPrefix, maxCount, fn, EVENTS_CHANNEL, keys.inboxPrefix, ...ids],
  }),
  decode: (raw) => raw as string[],
});

/** Returns the ids purged. */
export const purgeDeadLetters = defineScript<{ keys: FunctionKeys; maxCount: number; ids: string[] }, string[]>({
  source: purgeDeadLettersSource,
  call: ({ keys, maxCount, ids }) => ({ keys: [keys.deadLetters], args: [keys.invocationPrefix, maxCount, ...ids] }),
  decode: (raw) => raw as string[],
});

/** The ids claimed, and when the next unclaimed callback is due (epoch ms), if one is. */
export const claimDueCallbacks = defineScript<{ keys: FunctionKeys; now: number; leaseMs: number; maxCount: number }, { ids: string[]; nextDue?: number }>({
  source: claimDueCallbacksSource,
  call: ({ keys, now, leaseMs, maxCount }) => ({ keys: [keys.callbacks], args: [now, leaseMs, maxCount] }),
  decode: (raw) => {
    const [ids, next] = raw as [string[], string | null];
    return { ids, nextDue: next === null ? undefined : Number(next) };
  },
});

export interface SettleCallbackInput {
  keys: FunctionKeys;
  fn: string;
  id: string;
  outcome: "delivered" | "retry" | "failed";
  now: number;
  /** For 'retry': when the next try is due. */
  nextDue: number;
  error: string;
}

export const settleCallback = defineScript<SettleCallbackInput, void>({
  source: settleCallbackSource,
  call: ({ keys, fn, id, outcome, now, nextDue, error }) => ({
    keys: [keys.callbacks, keys.stats, keys.invocation(id)],
    args: [id, outcome, now, nextDue, error, fn, EVENTS_CHANNEL],
  }),
  decode: () => undefined,
});
