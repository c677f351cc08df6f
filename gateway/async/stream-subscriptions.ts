// A function's Redis Stream subscriptions, made, listed and removed by the admin API. Each one is the
// consumer group `hearth:<function>` on the stream plus an entry in the function's `streams` hash;
// StreamTriggers reads through the group in every API process. The stream is its producer's key, in
// another Redis Cluster slot than the function's: the group is made by a command of its own before the
// script that records the subscription, and destroyed after the script that removes it, so that a
// recorded subscription has its group (a reader that finds none recreates it: restoreGroup).

import { connectionForKey, type RedisClient } from "../redis/connections.js";
import { z } from "zod";
import { HearthError } from "../errors.js";
import { FUNCTION_NAME } from "../functions/definition.js";
import { functionNotFound } from "../invocation/queue-outcome.js";
import { functionKeys, streamGroup } from "../protocol/keys.js";
import { subscribeStream as subscribeScript, unsubscribeStream as unsubscribeScript } from "../protocol/stream-scripts.js";

/** Printable ASCII without spaces, 200 at most (part of the entries' idempotency keys), and none of Hearth's own keys. */
const STREAM_NAME = /^(?!hearth:)[\x21-\x7e]{1,200}$/;

const subscribeRequest = z.object({ startFrom: z.enum(["new", "oldest"]).default("new") }).strict();

export type StartFrom = z.infer<typeof subscribeRequest>["startFrom"];

export interface Subscription {
  stream: string;
  startFrom: StartFrom;
  subscribedAt: string;
}

export interface SubscriptionState extends Subscription {
  /** Entries read by the function's group and not yet acknowledged (their invocations are not final). */
  pending: number | null;
  /** Entries not yet read by the group (null when Redis cannot tell, or the group is gone). */
  lag: number | null;
  lastDeliveredId: string | null;
}

/** Stored in the `streams` hash as JSON. */
interface StoredSubscription {
  startFrom: StartFrom;
  subscribedAt: number;
}

/** Subscribes the function to the stream; an existing subscription is kept as it is. */
export async function subscribeStream(redis: RedisClient, fn: string, stream: string, input: unknown): Promise<{ subscription: Subscription; created: boolean }> {
  checkFunctionName(fn);
  checkStreamName(stream);
  const parsed = subscribeRequest.safeParse(input ?? {});
  if (!parsed.success) throw new HearthError(400, "InvalidRequestContent", 'the body is empty or {"startFrom": "new" | "oldest"}');
  const stored: StoredSubscription = { startFrom: parsed.data.startFrom, subscribedAt: Date.now() };
  // Checked first, so that a subscription to no function makes no group (nor, with MKSTREAM, a stream).
  await checkFunctionExists(redis, fn);
  const group = streamGroup(fn);
  let madeGroup: boolean;
  try {
    madeGroup = await createGroup(redis, stream, group, stored.startFrom === "new" ? "$" : "0");
  } catch (error) {
    if (!isWrongType(error)) throw error;
    throw new HearthError(409, "NotAStream", `key ${stream} holds a ${await streamNode(redis, stream).type(stream)}, not a stream`);
  }
  const outcome = await subscribeScript.run(redis, { keys: functionKeys(fn), fn, stream, subscriptionJson: JSON.stringify(stored) });
  if (outcome.kind === "missing") {
    // Deleted since the check: the group made for it goes again (one that was there is left to whoever
    // made it). An empty stream MKSTREAM made stays, as any stream does.
    if (madeGroup) await destroyGroup(redis, stream, group);
    throw functionNotFound(fn);
  }
  return { subscription: viewOf(stream, outcome.subscriptionJson), created: outcome.kind === "created" };
}

/** The function's subscriptions with how far its group has got in each stream. */
export async function listSubscriptions(redis: RedisClient, fn: string): Promise<SubscriptionState[]> {
  await checkFunctionExists(redis, fn);
  const stored = await redis.hgetall(functionKeys(fn).streams);
  const group = streamGroup(fn);
  return Promise.all(
    Object.entries(stored)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(async ([stream, json]) => ({ ...viewOf(stream, json), ...(await groupState(redis, stream, group)) })),
  );
}

/** Removes the subscription and its group; false when the function was not subscribed to the stream. */
export async function unsubscribeStream(redis: RedisClient, fn: string, stream: string): Promise<boolean> {
  checkStreamName(stream);
  await checkFunctionExists(redis, fn);
  if (!(await unsubscribeScript.run(redis, { keys: functionKeys(fn), fn, stream }))) return false;
  await destroyGroup(redis, stream, streamGroup(fn));
  return true;
}

/**
 * Recreates the group of a subscription whose stream was deleted (DEL takes its groups with it), from
 * the stream's first entry: what was added since it was recreated is then not skipped. True when the
 * subscription stands and its group exists; nothing is made once the function is unsubscribed.
 */
export async function restoreGroup(redis: RedisClient, fn: string, stream: string): Promise<boolean> {
  const subscribed = () => redis.hexists(functionKeys(fn).streams, stream).then((found) => found === 1);
  if (!(await subscribed())) return false;
  const group = streamGroup(fn);
  let madeGroup: boolean;
  try {
    madeGroup = await createGroup(redis, stream, group, "0");
  } catch (error) {
    // The producer put another type under the key: no group can stand there.
    if (isWrongType(error)) return false;
    throw error;
  }
  // Unsubscribed meanwhile, its group destroyed before this made it again: it goes too.
  if (madeGroup && !(await subscribed())) {
    await destroyGroup(redis, stream, group);
    return false;
  }
  return true;
}

/**
 * After a function's delete: its groups on the streams it was subscribed to. The delete is done whatever
 * happens here: a group left (Redis away meanwhile) is one a producer's operator may destroy, as after a
 * gateway that died between the two steps (ARCHITECTURE.md, "Known limits").
 */
export async function destroyGroupsOfDeleted(redis: RedisClient, fn: string, streams: string[]): Promise<void> {
  await Promise.all(streams.map((stream) => destroyGroup(redis, stream, streamGroup(fn)).catch(() => undefined)));
}

/** XGROUP CREATE … MKSTREAM: true when it made the group, false when it was there (kept where it stands). */
async function createGroup(redis: RedisClient, stream: string, group: string, startId: "$" | "0"): Promise<boolean> {
  try {
    await streamNode(redis, stream).xgroup("CREATE", stream, group, startId, "MKSTREAM");
    return true;
  } catch (error) {
    if (error instanceof Error && error.message.startsWith("BUSYGROUP")) return false;
    throw error;
  }
}

/** XGROUP DESTROY; a stream gone, or a key of another type now, has no group to destroy. */
async function destroyGroup(redis: RedisClient, stream: string, group: string): Promise<void> {
  try {
    await streamNode(redis, stream).xgroup("DESTROY", stream, group);
  } catch (error) {
    if (!isWrongType(error) && !(error instanceof Error && error.message.includes("requires the key to exist"))) throw error;
  }
}

function isWrongType(error: unknown): boolean {
  return error instanceof Error && error.message.startsWith("WRONGTYPE");
}

/**
 * The connection to the stream's node: ioredis finds no key in XGROUP and XINFO (subcommands), and a
 * Cluster would send them to any node (and take the MOVED answer for a change of slots).
 */
function streamNode(redis: RedisClient, stream: string): RedisClient {
  return connectionForKey(redis, stream) ?? redis;
}

async function groupState(redis: RedisClient, stream: string, group: string): Promise<Pick<SubscriptionState, "pending" | "lag" | "lastDeliveredId">> {
  // XINFO GROUPS fails on a key that is not (or no longer) a stream: then there is no group either.
  const groups = ((await streamNode(redis, stream).xinfo("GROUPS", stream).catch(() => [])) as unknown[][]).map(pairsToObject);
  const info = groups.find((fields) => fields.name === group);
  if (!info) return { pending: null, lag: null, lastDeliveredId: null };
  return {
    pending: Number(info.pending),
    lag: info.lag === null || info.lag === undefined ? null : Number(info.lag),
    lastDeliveredId: String(info["last-delivered-id"]),
  };
}

function pairsToObject(flat: unknown[]): Record<string, unknown> {
  const object: Record<string, unknown> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) object[String(flat[i])] = flat[i + 1];
  return object;
}

function viewOf(stream: string, json: string): Subscription {
  const stored = JSON.parse(json) as StoredSubscription;
  return { stream, startFrom: stored.startFrom, subscribedAt: new Date(stored.subscribedAt).toISOString() };
}

function checkFunctionName(fn: string): void {
  if (!FUNCTION_NAME.test(fn)) throw functionNotFound(fn);
}

async function checkFunctionExists(redis: RedisClient, fn: string): Promise<void> {
  checkFunctionName(fn);
  if (!(await redis.exists(functionKeys(fn).def))) throw functionNotFound(fn);
}

function checkStreamName(stream: string): void {
  if (!STREAM_NAME.test(stream)) {
    throw new HearthError(400, "InvalidStreamName", "a stream name is 1-200 printable ASCII characters without spaces, not starting with hearth:");
  }
}
