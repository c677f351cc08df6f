// A container's life in Redis, in one place: its states, the transitions between them, and the script
// that makes each (its binding below: the keys and arguments it is sent, its reply decoded).
//
// Dispatch is most recently used first: an idle container waits on its own inbox and stands in the
// function's idle list, the most recently idle at its head; new work goes to the head. Under a light
// load one container serves it all and the rest reach their keep-alive and retire. Work that finds no
// idle container waits in the function's queue, which a container empties as it finishes (the finish
// returns the next envelope: no round trip between two queued requests).

import type { Runtime } from "../functions/definition.js";
import { EVENTS_CHANNEL, type FunctionKeys } from "./keys.js";
import { defineScript } from "./scripts.js";
import { decodeSources, type StreamSource } from "./stream-sources.js";
import { stateDiagram, type Transition } from "./state-diagram.js";
import reserveContainerSource from "./lua/reserve-container.lua";
import registerContainerSource from "./lua/register-container.lua";
import enqueueInvocationSource from "./lua/enqueue-invocation.lua";
import finishInvocationSource from "./lua/finish-invocation.lua";
import retireContainerSource from "./lua/retire-container.lua";
import releaseContainerSource from "./lua/release-container.lua";
import markDrainingSource from "./lua/mark-draining.lua";

/** `draining` and `retired` are not in a record: draining is the record plus the draining set, retired its absence. */
export type ContainerState = "starting" | "idle" | "busy" | "draining" | "retired";

export const CONTAINER_TRANSITIONS: readonly Transition<ContainerState>[] = [
  { from: "none", to: "starting", script: "reserve-container", when: "queued work has nobody to take it, and the function's limit and the host have room" },
  { from: "starting", to: "idle", script: "register-container", when: "ready, no work queued" },
  { from: "starting", to: "busy", script: "register-container", when: "ready, work queued: takes the oldest" },
  { from: "starting", to: "retired", script: "register-container", when: "redeployed, deleted or drained meanwhile" },
  { from: "idle", to: "busy", script: "enqueue-invocation", when: "work arrives (sync or async): the most recently idle container takes it" },
  { from: "busy", to: "busy", script: "finish-invocation", when: "done, work queued: takes the oldest" },
  { from: "busy", to: "idle", script: "finish-invocation", when: "done, no work queued: head of the idle list" },
  { from: "busy", to: "retired", script: "finish-invocation", when: "done, and redeployed, deleted or drained meanwhile, or its runtime was killed for the memory limit" },
  { from: "idle", to: "retired", script: "retire-container", when: "keep-alive over with an empty inbox, or woken by a redeploy, delete or drain" },
  { from: "idle", to: "draining", script: "mark-draining", when: "its invoker stops or needs its room: woken at once" },
  { from: "busy", to: "draining", script: "mark-draining", when: "its invoker stops or needs its room" },
  { from: "draining", to: "retired", script: "finish-invocation", when: "its request done (or at once, woken: retire-container)" },
  { from: "busy", to: "retired", script: "release-container", when: "it exited or its invoker is lost: running work fails, inbox work goes to another" },
];

/** The transitions as a mermaid state diagram (ARCHITECTURE.md shows it; a test keeps the two equal). */
export function containerStateDiagram(): string {
  return stateDiagram(CONTAINER_TRANSITIONS, ["retired"]);
}

/** A container record (field of the function's containers hash): "state|version|invoker|sinceMs". */
export interface ContainerRecord {
  state: "starting" | "idle" | "busy";
  version: number;
  invokerId: string;
  since: number;
}

/** As reserve-container.lua writes it (and tests that stand in for an invoker). */
export function formatContainerRecord(record: ContainerRecord): string {
  return [record.state, record.version, record.invokerId, record.since].join("|");
}

export function parseContainerRecord(value: string): ContainerRecord {
  const [state, version, invokerId, since] = value.split("|");
  return { state: state as ContainerRecord["state"], version: Number(version), invokerId: invokerId ?? "", since: Number(since) };
}

/** Put in an idle container's inbox instead of work (pool.lua's WAKE): it looks whether it must retire. */
export const WAKE = Buffer.from("wake");

/** What register-container and finish-invocation answer: exit, wait on the inbox, or run this envelope. */
export type NextStep = { kind: "exit" } | { kind: "wait" } | { kind: "run"; envelope: Buffer };

function nextStep(raw: unknown): NextStep {
  if (Buffer.isBuffer(raw)) return { kind: "run", envelope: raw };
  return raw === 1 ? { kind: "wait" } : { kind: "exit" };
}

/** The pool keys every pool script starts with, in pool.lua's order: def, queue, containers, draining, idle. */
function poolKeys(keys: FunctionKeys): string[] {
  return [keys.def, keys.queue, keys.containers, keys.draining, keys.idle];
}

export interface ReserveInput {
  keys: FunctionKeys;
  containerId: string;
  invokerId: string;
  now: number;
  freeContainers: number;
  freeMemoryMb: number;
}

export interface ReservedContainer {
  version: number;
  codeSha: string;
  runtime: Runtime;
  memoryMb: number;
  ephemeralStorageMb?: number;
  network?: string;
}

export type Reservation = { kind: "none" } | { kind: "full"; memoryMb: number } | { kind: "reserved"; container: ReservedContainer };

export const reserveContainer = defineScript<ReserveInput, Reservation>({
  source: reserveContainerSource,
  call: ({ keys, containerId, invokerId, now, freeContainers, freeMemoryMb }) => ({
    keys: [keys.def, keys.queue, keys.containers],
    args: [containerId, invokerId, now, freeContainers, freeMemoryMb],
  }),
  decode: (raw) => {
    if (raw === null) return { kind: "none" };
    const reply = raw as Array<string | null>;
    if (reply[0] === "full") return { kind: "full", memoryMb: Number(reply[1]) };
    const [version, codeSha, runtime, memory, ephemeralStorage, network] = reply;
    return {
      kind: "reserved",
      container: { version: Number(version), codeSha: codeSha!, runtime: runtime as Runtime, memoryMb: Number(memory), ephemeralStorageMb: ephemeralStorage === null ? undefined : Number(ephemeralStorage), network: network ?? undefined },
    };
  },
});

export interface ContainerInput {
  keys: FunctionKeys;
  fn: string;
  containerId: string;
  version: number;
}

export const registerContainer = defineScript<ContainerInput & { now: number; timingsJson: string }, NextStep>({
  source: registerContainerSource,
  call: ({ keys, fn, containerId, version, now, timingsJson }) => ({
    keys: [...poolKeys(keys), keys.running(containerId)],
    args: [containerId, version, now, timingsJson, fn, EVENTS_CHANNEL],
  }),
  decode: nextStep,
  bytes: true,
});

/** `leaving`: the container retires whatever the pool says (its runtime was killed for the memory limit). */
export const finishInvocation = defineScript<ContainerInput & { now: number; leaving: boolean }, NextStep>({
  source: finishInvocationSource,
  call: ({ keys, fn, containerId, version, now, leaving }) => ({
    keys: [...poolKeys(keys), keys.running(containerId)],
    args: [containerId, version, now, leaving ? "1" : "0", fn, EVENTS_CHANNEL],
  }),
  decode: nextStep,
  bytes: true,
});

/** Returns true when the container exits. */
export const retireContainer = defineScript<ContainerInput & { keepAliveExpired: boolean }, boolean>({
  source: retireContainerSource,
  call: ({ keys, fn, containerId, version, keepAliveExpired }) => ({
    keys: [...poolKeys(keys), keys.inbox(containerId), keys.running(containerId)],
    args: [containerId, version, keepAliveExpired ? "1" : "0", fn, EVENTS_CHANNEL],
  }),
  decode: (raw) => raw === 1,
});

export interface EnqueueInput {
  keys: FunctionKeys;
  fn: string;
  envelope: Buffer;
  expectedVersion: number;
  now: number;
}

/** What the enqueue scripts (sync and async) answer; invocation/queue-outcome.ts reads it. */
export type QueueOutcome = ["queued"] | ["duplicate", string] | ["mismatch"] | ["missing"] | ["stale", string] | ["full", string];

export const enqueueInvocation = defineScript<EnqueueInput, QueueOutcome>({
  source: enqueueInvocationSource,
  call: ({ keys, fn, envelope, expectedVersion, now }) => ({
    keys: [keys.def, keys.queue, keys.containers, keys.idle, keys.asyncQueued],
    args: [envelope, expectedVersion, now, fn, EVENTS_CHANNEL, keys.inboxPrefix],
  }),
  decode: (raw) => raw as QueueOutcome,
});

export interface ReleaseInput {
  keys: FunctionKeys;
  fn: string;
  containerId: string;
  /** After a failed start: when the function is left with no container, its queued work fails too. */
  failQueuedWhenPoolEmpty: boolean;
  now: number;
  retentionMs: number;
  /** The error body the async invocations it fails get. */
  result: string;
  /** How the async attempts it fails ended (protocol/outcome.ts), for the metrics. */
  outcome: string;
}

/** The sync envelopes it was running, and those failed with the pool (their callers are answered by the caller). */
export interface Released {
  orphaned: Buffer[];
  failed: Buffer[];
  /** The stream entries of the async invocations it made final: the caller acknowledges them. */
  sources: StreamSource[];
}

export const releaseContainer = defineScript<ReleaseInput, Released>({
  source: releaseContainerSource,
  call: (input) => {
    const { keys, containerId } = input;
    return {
      keys: [...poolKeys(keys), keys.asyncQueued, keys.inbox(containerId), keys.running(containerId), keys.retries, keys.deadLetters, keys.callbacks, keys.stats],
      args: [containerId, input.failQueuedWhenPoolEmpty ? "1" : "0", input.now, Math.random(), input.retentionMs, keys.invocationPrefix, input.result, input.outcome, input.fn, EVENTS_CHANNEL, keys.inboxPrefix],
    };
  },
  decode: (raw) => {
    const [orphaned, failed, sources] = raw as [Buffer[], Buffer[], Buffer[]];
    return { orphaned, failed, sources: decodeSources(sources) };
  },
  bytes: true,
});

/** Returns how many of them were idle (woken to retire now). */
export const markDraining = defineScript<{ keys: FunctionKeys; containerIds: string[] }, number>({
  source: markDrainingSource,
  call: ({ keys, containerIds }) => ({ keys: [keys.containers, keys.draining, keys.idle], args: [keys.inboxPrefix, ...containerIds] }),
  decode: (raw) => Number(raw),
});
