// The bindings of the scripts that create, replace and delete a function (gateway/functions/registry.ts).

import { CODE_BYTES, EVENTS_CHANNEL, FUNCTIONS_INDEX, streamGroup, type FunctionKeys } from "./keys.js";
import { defineScript } from "./scripts.js";
import deployFunctionSource from "./lua/deploy-function.lua";
import deleteFunctionSource from "./lua/delete-function.lua";

export interface DeployInput {
  keys: FunctionKeys;
  fn: string;
  codeSha: string;
  /** The package, or undefined when the one of codeSha is already stored. */
  code?: Buffer;
  now: number;
  maxFunctions: number;
  maxTotalCodeBytes: number;
  /** Field, value pairs of the definition. */
  fields: string[];
}

/** Fails with 'NOCODE …' or 'QUOTA …' (see the script). */
export const deployFunction = defineScript<DeployInput, { version: number; created: boolean }>({
  source: deployFunctionSource,
  call: (input) => {
    const { keys } = input;
    return {
      keys: [keys.def, keys.versions, keys.code(input.codeSha), FUNCTIONS_INDEX, CODE_BYTES, keys.idle],
      args: [input.codeSha, input.code ?? "", input.now, input.fn, keys.codePrefix, input.maxFunctions, input.maxTotalCodeBytes, keys.inboxPrefix, EVENTS_CHANNEL, ...input.fields],
    };
  },
  decode: (raw) => {
    const [version, created] = raw as [number, number];
    return { version, created: created === 1 };
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

/** Undefined when there was no such function, else the sync envelopes still queued (their callers are told). */
export const deleteFunction = defineScript<DeleteInput, Buffer[] | undefined>({
  source: deleteFunctionSource,
  call: ({ keys, fn, now, retentionMs, failedResult }) => ({
    keys: [keys.def, keys.queue, keys.asyncQueued, keys.retries, keys.deadLetters, keys.callbacks, keys.stats, keys.streams, FUNCTIONS_INDEX, CODE_BYTES, keys.logs, keys.history, keys.idle],
    args: [fn, keys.codePrefix, now, retentionMs, keys.invocationPrefix, failedResult, streamGroup(fn), keys.inboxPrefix, EVENTS_CHANNEL],
  }),
  decode: (raw) => (raw === null ? undefined : (raw as Buffer[])),
  bytes: true,
});
