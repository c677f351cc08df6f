// Every function container reaches Redis as an ACL user of its own, made by its invoker just before it
// creates the container and deleted when the container goes (Redis then closes its connection). The
// user may touch its own function's keys only (every one of them is in the function's `{name}` slot),
// push to reply lists without reading them, publish Hearth's events, and run the commands the adapter
// sends or Hearth's scripts run for it: no KEYS, MONITOR, CONFIG, FLUSH*, EVAL or SCRIPT, and no GET (the
// code package comes mounted from the invoker's code cache; nothing else of a function is a string).
// ACL SETUSER is per node (neither replicated nor spread over a Redis Cluster): every user is made,
// and deleted, on every master.

import { randomBytes } from "node:crypto";
import { masters, type RedisClient } from "../redis/connections.js";
import { EVENTS_CHANNEL, functionKeys } from "../protocol/keys.js";
import { loadScripts } from "../protocol/all-scripts.js";
import { stemKey } from "../protocol/stem-cells.js";

const USER_PREFIX = "hearth-container:";

/**
 * The adapter's own commands (and CLIENT SETNAME for its connection name), then those its scripts run
 * (Redis checks a script's commands against the caller's permissions).
 */
const ADAPTER_COMMANDS = [
  "hgetall", "blmove", "rpush", "pexpire", "evalsha", "client|setname", "xack",
  "del", "exists", "hdel", "hexists", "hget", "hincrby", "hmget", "hset", "hvals", "llen", "lpush", "lrem", "rpoplpush",
  "publish", "sismember", "srem", "zadd", "zrem",
  // Log lines and the invocation history (gateway/adapter/function-log.ts).
  "xadd", "xtrim", "ltrim",
];

export interface ContainerCredentials {
  username: string;
  password: string;
}

/** The Redis user of one container; the invoker id in it lets invokers find the users of a dead invoker. */
export function containerUserName(invokerId: string, containerId: string): string {
  return `${USER_PREFIX}${invokerId}:${containerId}`;
}

/** The ACL SETUSER rules of a container of function `fn` that acknowledges entries of `streams`. */
export function containerUserRules(fn: string, password: string, streams: string[]): string[] {
  return [
    "reset",
    "on",
    `>${password}`,
    `~${functionKeys(fn).pattern}`,
    "%W~hearth:replies:*",
    // The adapter acknowledges the stream entry of an invocation its settle made final (XACK writes the stream).
    ...streams.map((stream) => `%W~${escapeGlob(stream)}`),
    `&${EVENTS_CHANNEL}`,
    ...ADAPTER_COMMANDS.map((command) => `+${command}`),
  ];
}

/**
 * The rules of a stem cell's user: wait on its own stem key, nothing else (no function's key, no
 * reply list, no channel). AUTH is how the cell becomes its function's user on the same connection.
 */
export function stemCellUserRules(stemId: string, password: string): string[] {
  return ["reset", "on", `>${password}`, `~${escapeGlob(stemKey(stemId))}`, "+blpop", "+auth", "+client|setname"];
}

export class ContainerUsers {
  /**
   * The rules of every user this process made and has not deleted: ACL SETUSER is not replicated, so
   * after a failover they are made again on the new master(s) (restore).
   */
  private readonly made = new Map<string, string[]>();

  constructor(private readonly redis: RedisClient) {}

  /**
   * Makes the user of a container about to be created. The scripts are loaded first: the container
   * may run them (EVALSHA) but not load any.
   */
  async create(invokerId: string, containerId: string, fn: string): Promise<ContainerCredentials> {
    const username = containerUserName(invokerId, containerId);
    const password = randomBytes(32).toString("hex");
    const [streams] = await Promise.all([this.redis.hkeys(functionKeys(fn).streams), loadScripts(this.redis)]);
    const rules = containerUserRules(fn, password, streams);
    await this.setUser(username, rules);
    this.made.set(username, rules);
    return { username, password };
  }

  /** Makes this process's users again, and loads the scripts they run, on a master that lacks them. */
  async restore(): Promise<void> {
    await loadScripts(this.redis);
    for (const [username, rules] of this.made) await this.setUser(username, rules);
  }

  /** Makes the user of a stem cell about to be created (named like a container's: the same sweeps find it). */
  async createStemCell(invokerId: string, stemId: string): Promise<ContainerCredentials> {
    const username = containerUserName(invokerId, stemId);
    const password = randomBytes(32).toString("hex");
    await this.setUser(username, stemCellUserRules(stemId, password));
    return { username, password };
  }

  /** Deletes a container's user (closing its connections); one already gone is fine. */
  async remove(invokerId: string, containerId: string): Promise<void> {
    const username = containerUserName(invokerId, containerId);
    this.made.delete(username);
    await this.deleteUser(username);
  }

  /** Deletes the container users that `stale(invokerId, containerId)` picks. */
  async removeWhere(stale: (invokerId: string, containerId: string) => Promise<boolean> | boolean): Promise<void> {
    const everyMaster = await Promise.all(masters(this.redis).map((node) => node.acl("USERS") as Promise<string[]>));
    for (const username of new Set(everyMaster.flat())) {
      if (!username.startsWith(USER_PREFIX)) continue;
      const [invokerId = "", containerId = ""] = username.slice(USER_PREFIX.length).split(":");
      if (!(await stale(invokerId, containerId))) continue;
      this.made.delete(username);
      await this.deleteUser(username);
    }
  }

  private async setUser(username: string, rules: string[]): Promise<void> {
    await Promise.all(masters(this.redis).map((node) => node.acl("SETUSER", username, ...rules)));
  }

  /** On every master, one that lacks the user too (DELUSER of an unknown user is no error). */
  private async deleteUser(username: string): Promise<void> {
    await Promise.all(masters(this.redis).map((node) => node.acl("DELUSER", username)));
  }
}

/** A key pattern that matches exactly `key` (ACL key patterns are globs). */
function escapeGlob(key: string): string {
  return key.replace(/[*?[\]\\]/g, "\\$&");
}
