import { Redis, type RedisOptions } from "ioredis";

/**
 * The gateway process holds three connections whatever the load: `commands` (auto-pipelined),
 * `replies` (blocked reading results) and `events` (pub/sub); and one per stream subscription
 * (blocked in XREADGROUP).
 */
export function connectRedis(url: string, name: string, options: RedisOptions = {}): Redis {
  return new Redis(url, { connectionName: name, enableAutoPipelining: true, ...options });
}
