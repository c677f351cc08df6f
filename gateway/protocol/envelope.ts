// Wire format of what travels through Redis: one line of JSON metadata, a newline, then the payload
// bytes as they are (no base64, no JSON escaping of bodies).

import { outcomeOfError, type InvocationOutcome } from "./outcome.js";

export interface InvocationMeta {
  id: string;
  function: string;
  /** Function version the request was accepted for; only a container of this version or newer may run it. */
  version: number;
  /** Gateway process that waits for the result ('' for async invocations: their record takes it). */
  replyTo: string;
  enqueuedAt: number;
  /** Epoch ms after which no container may start the request any more (its caller has given up); 0: never. */
  startBy: number;
  /** An async invocation: its outcome settles its record (retry, dead letter, callback), nobody waits. */
  async?: boolean;
  /** Async: which attempt this is, from 1. */
  attempt?: number;
}

export interface ColdStartTimings {
  /** Epoch ms of each phase, measured in the container (the invoker and the container share a clock). */
  createdAt: number;
  processStartedAt: number;
  codeLoadedAt: number;
  runtimeReadyAt: number;
}

export interface ResultMeta {
  id: string;
  /** The function that answered: a gateway drops a result whose function is not the request's. */
  function: string;
  /** HTTP status the caller gets. */
  status: number;
  /** True when the error came from the function (its code or its runtime), not from Hearth. */
  functionError?: boolean;
  containerId?: string;
  startedAt?: number;
  finishedAt?: number;
  /** How it ended, for the metrics (absent from results of older adapters). */
  outcome?: InvocationOutcome;
  /** It waited for a runtime's init (its container's first request, or the first after an idle runtime died): a cold start. */
  cold?: boolean;
}

export interface Message<M> {
  meta: M;
  payload: Buffer;
}

const NEWLINE = 0x0a;

export function encodeMessage(meta: object, payload: Buffer | string): Buffer {
  return Buffer.concat([Buffer.from(JSON.stringify(meta) + "\n"), Buffer.isBuffer(payload) ? payload : Buffer.from(payload)]);
}

export function decodeMessage<M>(raw: Buffer): Message<M> {
  const split = raw.indexOf(NEWLINE);
  if (split < 0) throw new Error("malformed message: no metadata line");
  return { meta: JSON.parse(raw.subarray(0, split).toString("utf8")) as M, payload: raw.subarray(split + 1) };
}

/** An error body in the one shape every runtime's errors are given: {errorMessage, errorType, stackTrace}. */
export function errorBody(errorType: string, errorMessage: string): string {
  return JSON.stringify({ errorMessage, errorType, stackTrace: [] });
}

/** A Hearth-made error result, shaped like a function error so clients parse one format. */
/** The error of a function whose runtime or container the kernel killed for its memory limit (adapter and invoker alike). */
export const OUT_OF_MEMORY = "Runtime.OutOfMemory";

export function outOfMemoryMessage(fn: string, memoryMb: number): string {
  return `function ${fn} exceeded its memory limit of ${memoryMb} MB`;
}

export function errorResult(id: string, fn: string, status: number, errorType: string, errorMessage: string): Buffer {
  return encodeMessage({ id, function: fn, status, outcome: outcomeOfError(status, errorType) } satisfies ResultMeta, errorBody(errorType, errorMessage));
}
