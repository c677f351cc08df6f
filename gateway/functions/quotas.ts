// The quotas on functions (HEARTH_MAX_FUNCTIONS, HEARTH_MAX_TOTAL_CODE_BYTES, HEARTH_MAX_TOTAL_MIN_WARM),
// kept in global keys: the index of function names and a counter per counted quota. A deploy or delete
// changes its function's keys in one script of that function's Redis Cluster slot, and these in steps of
// their own, ordered so that they may count more than is stored, never less: room is reserved before a
// deploy and given back after a delete.

import type { RedisClient } from "../redis/connections.js";
import type { Quotas } from "../config.js";
import { HearthError } from "../errors.js";
import { claimFunctionName, QUOTA_COUNTERS, reserveQuota, type CountedQuota } from "../protocol/function-scripts.js";
import { functionKeys, FUNCTIONS_INDEX } from "../protocol/keys.js";

/** What a deploy adds to each counted quota (negative when it takes away), or a delete gives back. */
export type QuotaAmounts = Record<CountedQuota, number>;

const COUNTED: CountedQuota[] = ["codeBytes", "minWarm"];

/**
 * Runs `deploy` within the quotas: the name and the `reserved` amounts are reserved first (403
 * QuotaExceeded when they do not fit), given back when the deploy fails, and corrected after it by what
 * it really added (another deploy of the function may have changed it meanwhile).
 */
export async function deployWithinQuotas<Deployed extends { added: QuotaAmounts }>(
  redis: RedisClient,
  quotas: Quotas,
  fn: string,
  reserved: QuotaAmounts,
  deploy: () => Promise<Deployed>,
): Promise<Deployed> {
  const claimed = await claimFunctionName.run(redis, { fn, maxFunctions: quotas.maxFunctions }).catch((error: Error) => {
    throw quotaError(error, quotas);
  });
  const taken: CountedQuota[] = [];
  const giveBack = async (): Promise<void> => {
    await Promise.all([
      ...taken.map((quota) => adjust(redis, quota, -reserved[quota])),
      // Unless a deploy of the same name that began meanwhile created the function.
      (async () => {
        if (claimed && (await redis.exists(functionKeys(fn).def)) === 0) await redis.srem(FUNCTIONS_INDEX, fn);
      })(),
    ]);
  };
  let deployed: Deployed;
  try {
    for (const quota of COUNTED) {
      await reserveQuota.run(redis, { quota, amount: reserved[quota], maximum: maximumOf(quota, quotas) }).catch((error: Error) => {
        throw quotaError(error, quotas);
      });
      taken.push(quota);
    }
    deployed = await deploy();
  } catch (error) {
    await giveBack();
    throw error;
  }
  // SADD again: a delete of the not yet created function may have removed the claimed name meanwhile.
  await Promise.all([...COUNTED.map((quota) => adjust(redis, quota, deployed.added[quota] - reserved[quota])), redis.sadd(FUNCTIONS_INDEX, fn)]);
  return deployed;
}

/** After a function's delete: its name leaves the index (also a name left by a deploy that never finished), and what it held the counters. */
export async function releaseQuotas(redis: RedisClient, fn: string, held: QuotaAmounts): Promise<void> {
  await Promise.all([redis.srem(FUNCTIONS_INDEX, fn), ...COUNTED.map((quota) => adjust(redis, quota, -held[quota]))]);
}

async function adjust(redis: RedisClient, quota: CountedQuota, by: number): Promise<void> {
  if (by !== 0) await redis.incrby(QUOTA_COUNTERS[quota], by);
}

function maximumOf(quota: CountedQuota, quotas: Quotas): number {
  return quota === "codeBytes" ? quotas.maxTotalCodeBytes : quotas.maxTotalMinWarm;
}

/** 403 naming the limit that was reached and what is in use, from a script's 'QUOTA …' answer. */
function quotaError(error: Error, quotas: Quotas): Error {
  if (!error.message.startsWith("QUOTA")) return error;
  const [, quota, inUse, added] = error.message.split(" ");
  const messages: Record<string, string> = {
    functions: `Hearth holds ${inUse} functions, its limit (HEARTH_MAX_FUNCTIONS=${quotas.maxFunctions}); delete one to deploy another`,
    codeBytes: `code packages take ${inUse} bytes of the ${quotas.maxTotalCodeBytes} allowed (HEARTH_MAX_TOTAL_CODE_BYTES), and this deploy adds ${added}; delete functions to make room`,
    minWarm: `functions keep ${inUse} containers warm of the ${quotas.maxTotalMinWarm} allowed (HEARTH_MAX_TOTAL_MIN_WARM), and this deploy adds ${added}; lower minWarm of other functions or delete them to make room`,
  };
  return new HearthError(403, "QuotaExceeded", messages[quota!] ?? error.message);
}
