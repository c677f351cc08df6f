// How the BullMQ peer's producer and worker reach the bench's redis-server.

import type { ConnectionOptions } from "bullmq";

export const BULLMQ_QUEUE = "bench-noop";

/** BullMQ's connection settings from a redis:// URL (its workers block: no retry limit per request). */
export function bullmqConnection(redisUrl: string): ConnectionOptions {
  const url = new URL(redisUrl);
  return {
    host: url.hostname,
    port: Number(url.port || 6379),
    ...(url.username ? { username: decodeURIComponent(url.username) } : {}),
    ...(url.password ? { password: decodeURIComponent(url.password) } : {}),
    maxRetriesPerRequest: null,
  };
}
