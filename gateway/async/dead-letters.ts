// A function's dead-letter queue: async invocations that used up their retries. Listed, re-driven
// (queued again with a fresh retry budget) or purged by the admin API.

import type { RedisClient } from "../redis/connections.js";
import { functionKeys } from "../protocol/keys.js";
import { purgeDeadLetters as purgeScript, redriveDeadLetters as redriveScript } from "../protocol/async-lifecycle.js";
import { invocationView, type InvocationView } from "./invocation-record.js";

/** Ids handled per script run when no ids are named, so that a long queue never blocks Redis long. */
const BATCH = 500;

export interface DeadLetterPage {
  total: number;
  /** Oldest first. */
  invocations: InvocationView[];
}

export async function listDeadLetters(redis: RedisClient, fn: string, offset: number, limit: number): Promise<DeadLetterPage> {
  const keys = functionKeys(fn);
  const [total, ids] = await Promise.all([redis.zcard(keys.deadLetters), redis.zrange(keys.deadLetters, offset, offset + limit - 1)]);
  const records = await Promise.all(ids.map((id) => redis.hgetallBuffer(keys.invocation(id))));
  return { total, invocations: records.flatMap((hash) => invocationView(hash) ?? []) };
}

/** Queues the named dead letters again (all of them when none are named); returns the ids re-driven. */
export async function redriveDeadLetters(redis: RedisClient, fn: string, ids: string[] = []): Promise<string[]> {
  const keys = functionKeys(fn);
  return inBatches(ids, (batch) =>
    redriveScript.run(redis, { keys, fn, now: Date.now(), maxCount: BATCH, ids: batch }),
  );
}

/** Deletes the named dead letters (all of them when none are named); returns the ids purged. */
export async function purgeDeadLetters(redis: RedisClient, fn: string, ids: string[] = []): Promise<string[]> {
  const keys = functionKeys(fn);
  return inBatches(ids, (batch) => purgeScript.run(redis, { keys, maxCount: BATCH, ids: batch }));
}

/** Named ids in batches; none named: the oldest BATCH at a time until a run finds none. */
async function inBatches(ids: string[], run: (batch: string[]) => Promise<unknown>): Promise<string[]> {
  const done: string[] = [];
  if (ids.length > 0) {
    for (let i = 0; i < ids.length; i += BATCH) done.push(...((await run(ids.slice(i, i + BATCH))) as string[]));
    return done;
  }
  for (;;) {
    const batch = (await run([])) as string[];
    done.push(...batch);
    if (batch.length < BATCH) return done;
  }
}
