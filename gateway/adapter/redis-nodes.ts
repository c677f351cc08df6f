// The adapter's connections to Redis: one to the one node (or the Sentinel master behind its invoker's
// socket), or with a Redis Cluster one per master it sends to, each through the socket its invoker
// serves for that master (gateway/redis/cluster-sockets.ts). Each is opened when a key of its
// master's first comes up: the function's own (every script, the logs), a gateway's reply list, a
// stream to acknowledge. Plain connections, no Cluster client: the adapter reaches no node's address,
// and the map of sockets is its invoker's.

import { readFileSync } from "node:fs";
import path from "node:path";
import calculateSlot from "cluster-key-slot";
import type { Redis } from "ioredis";
import type { SlotsMap } from "../redis/cluster-sockets.js";

export interface RedisCredentials {
  username: string;
  password: string;
}

/** Opens a connection to `target` (a socket path or URL) as `credentials`. */
export type Connect = (target: string, credentials: RedisCredentials) => Redis;

export class RedisNodes {
  private readonly open = new Map<string, Redis>();

  private constructor(
    /** The target (socket path or URL) that serves a key. */
    private readonly targetFor: (key: string) => string,
    private readonly connect: Connect,
    private credentials: RedisCredentials,
  ) {}

  /** One node: every key goes to `target`. */
  static single(target: string, connect: Connect, credentials: RedisCredentials): RedisNodes {
    return new RedisNodes(() => target, connect, credentials);
  }

  /** A Redis Cluster: the map the invoker wrote beside its sockets says which socket serves a key's slot. */
  static cluster(mapFile: string, connect: Connect, credentials: RedisCredentials): RedisNodes {
    const bySlot = socketsBySlot(mapFile);
    return new RedisNodes(
      (key) => {
        const socket = bySlot[calculateSlot(key)];
        if (!socket) throw new Error(`no socket serves the slot of ${key}`);
        return socket;
      },
      connect,
      credentials,
    );
  }

  /** The connection on which commands on `key` go (a script's: its first key's). */
  connectionFor(key: string): Redis {
    const target = this.targetFor(key);
    let connection = this.open.get(target);
    if (!connection) {
      connection = this.connect(target, this.credentials);
      this.open.set(target, connection);
    }
    return connection;
  }

  /** Becomes another Redis user (a stem cell its function's): on the open connections, and those opened later. */
  async authenticate(credentials: RedisCredentials): Promise<void> {
    this.credentials = credentials;
    await Promise.all([...this.open.values()].map((connection) => connection.auth(credentials.username, credentials.password)));
  }

  disconnect(): void {
    for (const connection of this.open.values()) connection.disconnect();
    this.open.clear();
  }
}

/** Each slot's socket path, from the map's `[first, last, socket file]` ranges (the sockets beside the map). */
function socketsBySlot(mapFile: string): string[] {
  const ranges = JSON.parse(readFileSync(mapFile, "utf8")) as SlotsMap;
  const bySlot: string[] = [];
  for (const [first, last, socket] of ranges) {
    const socketPath = path.join(path.dirname(mapFile), path.basename(socket));
    for (let slot = first; slot <= last; slot += 1) bySlot[slot] = socketPath;
  }
  return bySlot;
}
