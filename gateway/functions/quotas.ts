// The quotas on functions (HEARTH_MAX_FUNCTIONS, HEARTH_MAX_TOTAL_CODE_BYTES), kept in two global keys:
// the index of function names and the code-bytes counter. A deploy or delete changes its function's
// keys in one script of that function's Redis Cluster slot, and these counters in steps of their own,
// ordered so that they may count more than is stored, never less: room is reserved before a deploy
// and given back after a delete.

import type { RedisClient } from "../redis/connections.js";
import type { Quotas } from "../config.js";
import { HearthError } from "../errors.js";
import { claimFunctionName, reserveCodeBytes } from "../protocol/function-scripts.js";
import { CODE_BYTES, functionKeys, FUNCTIONS_INDEX } from "../protocol/keys.js";

/**
 * Runs `deploy` within the quotas: the name and `reservedBytes` are reserved first (403 QuotaExceeded
 * when they do not fit), given back when the deploy fails, and the bytes corrected after it by what it
 * really added (another deploy of the function may have changed the package meanwhile).
 */
export async function deployWithinQuotas<Deployed extends { addedBytes: number }>(
  redis: RedisClient,
  quotas: Quotas,
  fn: string,
  reservedBytes: number,
  deploy: () => Promise<Deployed>,
): Promise<Deployed> {
  const claimed = await claimFunctionName.run(redis, { fn, maxFunctions: quotas.maxFunctions }).catch((error: Error) => {
    throw quotaError(error, quotas);
  });
  const releaseName = async (): Promise<void> => {
    // Unless a deploy of the same name that began meanwhile created the function.
    if (claimed && (await redis.exists(functionKeys(fn).def)) === 0) await redis.srem(FUNCTIONS_INDEX, fn);
  };
  try {
    await reserveCodeBytes.run(redis, { bytes: reservedBytes, maxTotalCodeBytes: quotas.maxTotalCodeBytes });
  } catch (error) {
    await releaseName();
    throw quotaError(error as Error, quotas);
  }
  let deployed: Deployed;
  try {
    deployed = await deploy();
  } catch (error) {
    await Promise.all([redis.incrby(CODE_BYTES, -reservedBytes), releaseName()]);
    throw error;
  }
  // SADD again: a delete of the not yet created function may have removed the claimed name meanwhile.
  await Promise.all([deployed.addedBytes === reservedBytes ? undefined : redis.incrby(CODE_BYTES, deployed.addedBytes - reservedBytes), redis.sadd(FUNCTIONS_INDEX, fn)]);
  return deployed;
}

/** After a function's delete: its name leaves the index (also a name left by a deploy that never finished) and its code bytes the counter. */
export async function releaseQuotas(redis: RedisClient, fn: string, codeBytes: number): Promise<void> {
  await Promise.all([redis.srem(FUNCTIONS_INDEX, fn), codeBytes === 0 ? undefined : redis.decrby(CODE_BYTES, codeBytes)]);
}

/** 403 naming the limit that was reached and what is in use, from a script's 'QUOTA …' answer. */
function quotaError(error: Error, quotas: Quotas): Error {
  if (!error.message.startsWith("QUOTA")) return error;
  const [, quota, inUse, added] = error.message.split(" ");
  const message =
    quota === "functions"
      ? `Hearth holds ${inUse} functions, its limit (HEARTH_MAX_FUNCTIONS=${quotas.maxFunctions}); delete one to deploy another`
      : `code packages take ${inUse} bytes of the ${quotas.maxTotalCodeBytes} allowed (HEARTH_MAX_TOTAL_CODE_BYTES), and this deploy adds ${added}; delete functions to make room`;
  return new HearthError(403, "QuotaExceeded", message);
}
