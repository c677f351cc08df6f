// Puts failed async invocations back into their function's queue when their backoff is over. Every
// API process runs one; promote-due-retries.lua moves each retry exactly once however many do.

import type { RedisClient } from "../redis/connections.js";
import { functionKeys } from "../protocol/keys.js";
import { promoteDueRetries as promoteScript } from "../protocol/async-lifecycle.js";

/** Retries moved per script run; more due ones are moved by the next run, at once. */
const BATCH = 500;

/** The DueWork of retries: moves the function's due retries, answers when the next one is due. */
export function promoteDueRetries(redis: RedisClient): (fn: string) => Promise<number | undefined> {
  return async (fn) => {
    return promoteScript.run(redis, { keys: functionKeys(fn), fn, now: Date.now(), maxCount: BATCH });
  };
}
