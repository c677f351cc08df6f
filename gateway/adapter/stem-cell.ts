// A stem cell's adapter before it has a function: connected as the cell's own Redis user, which may
// only wait on the cell's stem key, it waits there for its hand-over, then becomes the function's
// container on the same connection (AUTH as the function's user). The stem cell's user may reach no
// function's key, no reply list and no channel, so nothing is within its reach before this.

import type { Redis } from "ioredis";
import { decodeSpecialization, stemKey, type Specialization } from "../protocol/stem-cells.js";

/** Waits (as long as it takes: its invoker removes a cell it no longer wants) for the cell's function. */
export async function awaitSpecialization(redis: Redis, stemId: string): Promise<Specialization> {
  const [, raw] = (await redis.blpop(stemKey(stemId), 0))!;
  const specialization = decodeSpecialization(raw);
  await redis.auth(specialization.username, specialization.password);
  return specialization;
}
