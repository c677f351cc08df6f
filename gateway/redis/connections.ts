import type { Socket } from "node:net";
import calculateSlot from "cluster-key-slot";
import { Cluster, Redis, type ClusterOptions, type RedisOptions } from "ioredis";

/** Where Hearth's Redis is: one node by URL, the master a set of Sentinels names, or a Redis Cluster. */
export type RedisTarget = { url: string } | { sentinel: SentinelTarget } | { cluster: ClusterTarget };

/** A connection to Hearth's Redis: to one node, or a Cluster client routing each command to its slot's master. */
export type RedisClient = Redis | Cluster;

export interface ClusterTarget {
  /** Some of its masters: the rest are found from them. */
  nodes: Address[];
  /** The credentials, the same on every node. */
  username?: string;
  password?: string;
}

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
 * Sentinels announce a new one (`failoverDetector`). With a Cluster, each is a Cluster client: a
 * connection per master it sends to, found from the map of slots.
 */
export function connectRedis(target: RedisTarget, name: string, options: RedisOptions = {}): RedisClient {
  const common: RedisOptions = { connectionName: name, enableAutoPipelining: true, ...options };
  const redis = "url" in target ? new Redis(target.url, common) : "sentinel" in target ? new Redis({ ...sentinelOptions(target.sentinel), ...common }) : new Cluster(target.cluster.nodes, clusterOptions(target.cluster, common));
  // It reconnects by itself; what fails meanwhile says so to its caller (each failed attempt need not).
  redis.on("error", () => undefined);
  return redis;
}

function sentinelOptions({ sentinels, name, username, password, sentinelPassword }: SentinelTarget): RedisOptions {
  return { sentinels, name, role: "master", username, password, sentinelPassword, failoverDetector: true };
}

/**
 * How often a Cluster client reads the map of slots again. ioredis reads it at a MOVED answer only, and
 * a command routed to a lost master fails without one: an invoker that sent nothing to that master's
 * slots kept its containers' socket on the dead node, and the first command after a failover failed.
 */
const CLUSTER_MAP_REFRESH_MS = 1_000;

/** A Cluster client with the options of one connection: those of the client itself lifted out, the rest given to each node's. */
function clusterOptions({ username, password }: ClusterTarget, { enableOfflineQueue, enableAutoPipelining, ...node }: RedisOptions): ClusterOptions {
  const failFast = enableOfflineQueue === false;
  return {
    redisOptions: { ...node, username, password },
    enableAutoPipelining,
    enableOfflineQueue: !failFast,
    // Commands go to masters only: a replica's answer may be behind what a master acknowledged.
    scaleReads: "master",
    slotsRefreshInterval: CLUSTER_MAP_REFRESH_MS,
    // MOVED, ASK and TRYAGAIN are followed (the command did not run); a command whose connection
    // dropped is not sent again when failing fast (it may have run), nor held while the cluster is down.
    ...(failFast ? { retryDelayOnFailover: 0, retryDelayOnClusterDown: 0 } : {}),
  };
}

/** The same kind of connection to the same Redis with other options (a Cluster's node options changed for every node). */
export function duplicateConnection(redis: RedisClient, options: RedisOptions): RedisClient {
  const duplicate = redis instanceof Cluster ? redis.duplicate(undefined, { redisOptions: { ...redis.options.redisOptions, ...options } }) : redis.duplicate(options);
  duplicate.on("error", () => undefined);
  return duplicate;
}

/** Each master's own connection (the one node, or every master of a Cluster): for commands a Cluster does not route, as SCRIPT LOAD and ACL. */
export function masters(redis: RedisClient): Redis[] {
  return redis instanceof Cluster ? redis.nodes("master") : [redis];
}

/**
 * The connection on which `redis` sends commands for `key`: itself, or with a Cluster its connection to
 * the master of the key's slot (WAIT must go where a write went).
 */
export function connectionForKey(redis: RedisClient, key: string): Redis | undefined {
  if (!(redis instanceof Cluster)) return redis;
  const [master] = (redis.slots[calculateSlot(key)] ?? []) as string[];
  return redis.nodes("master").find(({ options }) => `${options.host}:${options.port}` === master);
}

/**
 * Options of a connection whose callers must hear at once that Redis is away (HTTP requests answered
 * 503, never held while ioredis reconnects): no command waits for a connection, none is sent again
 * after a reconnect (an enqueue that reached the old master must not run twice).
 */
export const FAIL_FAST: RedisOptions = { enableOfflineQueue: false, maxRetriesPerRequest: 0 };

/**
 * What a blocked reader's loop races its reads with, settled when it stops: a Cluster client that was
 * retrying a read (the cluster down) leaves it unsettled forever once disconnected, and a stop that
 * waited for the loop would hang.
 */
export class StopSignal {
  private settle: () => void = () => undefined;
  private readonly stopped = new Promise<null>((resolve) => (this.settle = () => resolve(null)));

  stop(): void {
    this.settle();
  }

  /** `read`'s answer, or null once stopped. */
  race<T>(read: Promise<T>): Promise<T | null> {
    return Promise.race([read, this.stopped]);
  }
}

/** Resolves once the connection is ready (a FAIL_FAST connection refuses commands before). */
export async function ready(redis: RedisClient): Promise<void> {
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

/** The node a ready connection to one node talks to: with Sentinel, the master as it resolved it. */
export function connectedNode(redis: RedisClient): Address | undefined {
  if (redis instanceof Cluster) return undefined;
  const socket = redis.stream as Socket | undefined;
  return socket?.remoteAddress && socket.remotePort ? { host: socket.remoteAddress, port: socket.remotePort } : undefined;
}

/**
 * Calls `onChange` with the masters' addresses each time they change: with one node or Sentinel when the
 * connection comes back ready on another node than before (a failover); with a Cluster when its map of
 * slots, read again, names other masters (a failover, or masters added or removed).
 */
export function onMasterChange(redis: RedisClient, onChange: (masters: string[]) => void): void {
  let current = redis.status === "ready" ? masterAddresses(redis) : "";
  redis.on(redis instanceof Cluster ? "refresh" : "ready", () => {
    const next = masterAddresses(redis);
    if (!next) return;
    const changed = current !== "" && next !== current;
    current = next;
    if (changed) onChange(next.split(","));
  });
}

function masterAddresses(redis: RedisClient): string {
  if (redis instanceof Cluster) return masters(redis).map(({ options }) => `${options.host}:${options.port}`).sort().join(",");
  const node = connectedNode(redis);
  return node ? `${node.host}:${node.port}` : "";
}

/** Where a target points, without credentials: for logs. */
export function describeTarget(target: RedisTarget): string {
  if ("url" in target) return withoutCredentials(target.url);
  if ("cluster" in target) return `cluster://${target.cluster.nodes.map(({ host, port }) => `${host}:${port}`).join(",")}`;
  return `sentinel://${target.sentinel.sentinels.map(({ host, port }) => `${host}:${port}`).join(",")}/${target.sentinel.name}`;
}

/** A Redis URL without its user and password: for containers, which have their own, and for logs. */
export function withoutCredentials(redisUrl: string): string {
  const url = new URL(redisUrl);
  url.username = "";
  url.password = "";
  return url.toString();
}

/**
 * An error of a connection that has lost Redis (FAIL_FAST), or of a node that is no master now: a 503, not
 * a 500. MOVED too: during a Cluster failover a command still routed by the old map reaches another
 * master, which did not run it; ioredis follows MOVED for a command sent alone, not for one auto-pipelined
 * with other slots' commands.
 */
export function isRedisUnavailable(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  return (
    error.name === "MaxRetriesPerRequestError" ||
    error.message === "Connection is closed." ||
    error.message.startsWith("Stream isn't writeable") ||
    error.message.startsWith("Cluster isn't ready") ||
    /^(READONLY|LOADING|MASTERDOWN|CLUSTERDOWN|MOVED) /.test(error.message)
  );
}
