// A stem cell's adapter before it has a function: connected as the cell's own Redis user, which may
// only wait on the cell's stem key, it waits there for its hand-over, then becomes the function's
// container on the same connection (AUTH as the function's user; with a Redis Cluster, the connections
// to its function's masters are opened as that user). The stem cell's user may reach no function's
// key, no reply list and no channel, so nothing is within its reach before this.

import { decodeSpecialization, stemKey, type Specialization } from "../protocol/stem-cells.js";
import type { RedisNodes } from "./redis-nodes.js";

/** Waits (as long as it takes: its invoker removes a cell it no longer wants) for the cell's function. */
export async function awaitSpecialization(redis: RedisNodes, stemId: string): Promise<Specialization> {
  const key = stemKey(stemId);
  const [, raw] = (await redis.connectionFor(key).blpop(key, 0))!;
  const specialization = decodeSpecialization(raw);
  await redis.authenticate({ username: specialization.username, password: specialization.password });
  return specialization;
}
