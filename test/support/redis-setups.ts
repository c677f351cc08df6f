// The Redis setups a script-level suite runs on, one describe block each (describe.each): one
// redis-server, and a three-master Redis Cluster whose client routes each command to its slot's master.

import { Redis } from "ioredis";
import { masters } from "../../gateway/redis/connections.js";
import { startTestRedis } from "./hearth.js";
import { startRedisCluster } from "./redis-cluster.js";

export interface ScriptRedis {
  /**
   * The test's connection. On a cluster an ioredis Cluster, typed as a Redis: the two have the same
   * commands, and Hearth's modules take either (RedisClient).
   */
  redis: Redis;
  /** Another connection, for SUBSCRIBE (a PUBLISH on any master reaches it). */
  subscriber: Redis;
  /** Empties every master (FLUSHALL goes to one node only). */
  flush(): Promise<void>;
  stop(): Promise<void>;
}

export interface RedisSetup {
  name: string;
  start(): Promise<ScriptRedis>;
}

export const redisSetups: RedisSetup[] = [
  {
    name: "one redis-server",
    start: async () => {
      const server = await startTestRedis();
      const [redis, subscriber] = [new Redis(server.url), new Redis(server.url)];
      return {
        redis,
        subscriber,
        flush: async () => void (await redis.flushall()),
        stop: async () => {
          redis.disconnect();
          subscriber.disconnect();
          await server.stop();
        },
      };
    },
  },
  {
    name: "a three-master Redis Cluster",
    start: async () => {
      const cluster = await startRedisCluster();
      const [redis, subscriber] = [cluster.connect(), cluster.connect()];
      return {
        redis: redis as unknown as Redis,
        subscriber: subscriber as unknown as Redis,
        flush: async () => {
          await Promise.all(masters(redis).map((master) => master.flushall()));
        },
        stop: async () => {
          redis.disconnect();
          subscriber.disconnect();
          await cluster.stop();
        },
      };
    },
  },
];
