// A container that dies outright (its adapter killed) writes no line for the request it was running:
// its invoker writes that line to the function's log, as the adapter would have.

import type { RedisClient } from "../redis/connections.js";
import { decodeMessage, type InvocationMeta } from "../protocol/envelope.js";
import { functionKeys } from "../protocol/keys.js";
import { lineFields } from "../protocol/logs.js";

/**
 * One `platform` line per request the container was running. Not trimmed here (the invoker does not
 * hold the log settings): the adapters' next write trims the stream back to its bound.
 */
export async function logContainerLoss(redis: RedisClient, fn: string, envelopes: Buffer[], message: string): Promise<void> {
  const pipeline = redis.pipeline();
  for (const raw of envelopes) {
    const { id } = decodeMessage<InvocationMeta>(raw).meta;
    pipeline.xadd(functionKeys(fn).logs, "*", ...lineFields(Date.now(), id, "platform", `RequestId: ${id} Error: ${message}`));
  }
  await pipeline.exec();
}
