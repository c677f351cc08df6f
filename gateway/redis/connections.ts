import type { Socket } from "node:net";
import { Redis, type RedisOptions } from "ioredis";

/** Where Hearth's Redis is: one node by URL, or the master a set of Sentinels names. */
export type RedisTarget = { url: string } | { sentinel: SentinelTarget };

export interface SentinelTarget {
  sentinels: Address[];
  /** The master's name in the Sentinels' configuration. */
  name: string;
  /** Redis's own credentials (the master's and its replicas'). */
  username?: string;
  password?: string;
  /** The Sentinels' password, if they require one. */
  sentinelPassword?: string;
}

export interface Address {
  host: string;
  port: number;
}

/**
 * The gateway process holds three connections whatever the load: `commands` (auto-pipelined),
 * `replies` (blocked reading results) and `events` (pub/sub); and one per stream subscription
 * (blocked in XREADGROUP). With Sentinel, each asks the Sentinels for the master whenever it
 * (re)connects, checks the node it reached is the master, and drops its connection when the
 * Sentinels announce a new one (`failoverDetector`).
 */
export function connectRedis(target: RedisTarget, name: string, options: RedisOptions = {}): Redis {
  const common: RedisOptions = { connectionName: name, enableAutoPipelining: true, ...options };
  const redis = "url" in target ? new Redis(target.url, common) : new Redis({ ...sentinelOptions(target.sentinel), ...common });
  // It reconnects by itself; what fails meanwhile says so to its caller (each failed attempt need not).
  redis.on("error", () => undefined);
  return redis;
}

function sentinelOptions({ sentinels, name, username, password, sentinelPassword }: SentinelTarget): RedisOptions {
  return { sentinels, name, role: "master", username, password, sentinelPassword, failoverDetector: true };
}

/**
 * Options of a connection whose callers must hear at once that Redis is away (HTTP requests answered
 * 503, never held while ioredis reconnects): no command waits for a connection, none is sent again
 * after a reconnect (an enqueue that reached the old master must not run twice).
 */
export const FAIL_FAST: RedisOptions = { enableOfflineQueue: false, maxRetriesPerRequest: 0 };

/** Resolves once the connection is ready (a FAIL_FAST connection refuses commands before). */
export async function ready(redis: Redis): Promise<void> {
  if (redis.status === "ready") return;
  await new Promise<void>((resolve, reject) => {
    const onEnd = (): void => reject(new Error("could not connect to Redis"));
    redis.once("end", onEnd);
    redis.once("ready", () => {
      redis.off("end", onEnd);
      resolve();
    });
  });
}

/** The node a ready connection talks to: with Sentinel, the master as it resolved it. */
export function connectedNode(redis: Redis): Address | undefined {
  const socket = redis.stream as Socket | undefined;
  return socket?.remoteAddress && socket.remotePort ? { host: socket.remoteAddress, port: socket.remotePort } : undefined;
}

/** Calls `onChange` each time the connection comes back ready on another node than before: a failover. */
export function onMasterChange(redis: Redis, onChange: (master: Address) => void): void {
  let current = redis.status === "ready" ? connectedNode(redis) : undefined;
  redis.on("ready", () => {
    const node = connectedNode(redis);
    if (!node) return;
    const changed = current !== undefined && (node.host !== current.host || node.port !== current.port);
    current = node;
    if (changed) onChange(node);
  });
}

/** Where a target points, without credentials: for logs. */
export function describeTarget(target: RedisTarget): string {
  if ("url" in target) return withoutCredentials(target.url);
  return `sentinel://${target.sentinel.sentinels.map(({ host, port }) => `${host}:${port}`).join(",")}/${target.sentinel.name}`;
}

/** A Redis URL without its user and password: for containers, which have their own, and for logs. */
export function withoutCredentials(redisUrl: string): string {
  const url = new URL(redisUrl);
  url.username = "";
  url.password = "";
  return url.toString();
}

/** An error of a connection that has lost Redis (FAIL_FAST), or of a node that is no master now: a 503, not a 500. */
export function isRedisUnavailable(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  return (
    error.name === "MaxRetriesPerRequestError" ||
    error.message === "Connection is closed." ||
    error.message.startsWith("Stream isn't writeable") ||
    /^(READONLY|LOADING|MASTERDOWN) /.test(error.message)
  );
}
