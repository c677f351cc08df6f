import type { ChainableCommander } from "ioredis";
import type { RedisClient } from "../redis/connections.js";
import { repliesKey } from "./keys.js";

/** A reply list whose gateway died expires instead of growing forever. */
const REPLIES_TTL_MS = 10 * 60 * 1000;

/** Adds the sending of results to the gateway process that waits for them to a pipeline. */
export function queueReplies(pipeline: ChainableCommander, replyTo: string, results: Buffer[]): ChainableCommander {
  const key = repliesKey(replyTo);
  return pipeline.rpush(key, ...results).pexpire(key, REPLIES_TTL_MS);
}

/** Sends results to the gateway process that waits for them; pipelined, no extra round trip. */
export async function pushReplies(redis: RedisClient, replyTo: string, results: Buffer[]): Promise<void> {
  if (results.length === 0) return;
  await queueReplies(redis.pipeline(), replyTo, results).exec();
}
