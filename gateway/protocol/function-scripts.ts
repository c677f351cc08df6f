// The bindings of the scripts that create, replace and delete a function (gateway/functions/registry.ts)
// and keep its quotas (gateway/functions/quotas.ts). A function's scripts touch its own slot only; the
// quotas' global keys are changed by scripts of their own, each in its key's slot.

import { CODE_BYTES, EVENTS_CHANNEL, FUNCTIONS_INDEX, MIN_WARM_TOTAL, type FunctionKeys } from "./keys.js";
import { defineScript } from "./scripts.js";
import deployFunctionSource from "./lua/deploy-function.lua";
import deleteFunctionSource from "./lua/delete-function.lua";
import claimFunctionNameSource from "./lua/claim-function-name.lua";
import reserveQuotaSource from "./lua/reserve-quota.lua";

export interface DeployInput {
  keys: FunctionKeys;
  fn: string;
  codeSha: string;
  /** The package, or undefined when the one of codeSha is already stored. */
  code?: Buffer;
  now: number;
  /** Field, value pairs of the definition. */
  fields: string[];
}

/** Fails with 'NOCODE …' (see the script). addedBytes: what the stored packages grew by (negative when they shrank). */
export const deployFunction = defineScript<DeployInput, { version: number; created: boolean; addedBytes: number; previousMinWarm: number }>({
  source: deployFunctionSource,
  call: (input) => {
    const { keys } = input;
    return {
      keys: [keys.def, keys.versions, keys.code(input.codeSha), keys.idle],
      args: [input.codeSha, input.code ?? "", input.now, input.fn, keys.codePrefix, keys.inboxPrefix, EVENTS_CHANNEL, ...input.fields],
    };
  },
  decode: (raw) => {
    const [version, created, addedBytes, previousMinWarm] = raw as [number, number, number, number];
    return { version, created: created === 1, addedBytes, previousMinWarm };
  },
});

export interface DeleteInput {
  keys: FunctionKeys;
  fn: string;
  now: number;
  retentionMs: number;
  /** The error body its unfinished async invocations get. */
  failedResult: string;
}

export interface Deleted {
  /** The bytes of its code package, to give back to the quota. */
  codeBytes: number;
  /** The streams it was subscribed to, whose consumer groups are still to go. */
  streams: string[];
  /** The sync envelopes still queued (their callers are told). */
  queued: Buffer[];
  /** The containers it kept warm, to give back to the quota. */
  minWarm: number;
}

/** Undefined when there was no such function. */
export const deleteFunction = defineScript<DeleteInput, Deleted | undefined>({
  source: deleteFunctionSource,
  call: ({ keys, fn, now, retentionMs, failedResult }) => ({
    keys: [keys.def, keys.queue, keys.asyncQueued, keys.retries, keys.deadLetters, keys.callbacks, keys.stats, keys.streams, keys.logs, keys.history, keys.idle],
    args: [fn, keys.codePrefix, now, retentionMs, keys.invocationPrefix, failedResult, keys.inboxPrefix, EVENTS_CHANNEL],
  }),
  decode: (raw) => {
    if (raw === null) return undefined;
    const [codeBytes, streams, queued, minWarm] = raw as [number, Buffer[], Buffer[], number];
    return { codeBytes, streams: streams.map((stream) => stream.toString()), queued, minWarm };
  },
  bytes: true,
});

/** True when the name was added to the index (a new function), false when it was there. Fails with 'QUOTA functions …'. */
export const claimFunctionName = defineScript<{ fn: string; maxFunctions: number }, boolean>({
  source: claimFunctionNameSource,
  call: ({ fn, maxFunctions }) => ({ keys: [FUNCTIONS_INDEX], args: [fn, maxFunctions] }),
  decode: (raw) => raw === 1,
});

/** A quota kept in a global counter: the code bytes stored, or the containers kept warm. */
export type CountedQuota = "codeBytes" | "minWarm";

/** Fails with 'QUOTA <quota> …' when `amount` does not fit under `maximum` (an amount ≤ 0 always does). */
export const reserveQuota = defineScript<{ quota: CountedQuota; amount: number; maximum: number }, void>({
  source: reserveQuotaSource,
  call: ({ quota, amount, maximum }) => ({ keys: [QUOTA_COUNTERS[quota]], args: [amount, maximum, quota] }),
  decode: () => undefined,
});

/** The counter of each quota. */
export const QUOTA_COUNTERS: Record<CountedQuota, string> = { codeBytes: CODE_BYTES, minWarm: MIN_WARM_TOTAL };
