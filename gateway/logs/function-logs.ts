// Reading a function's log lines and invocation history (written by its containers' adapters, see
// gateway/adapter/function-log.ts), and following its log as lines are written.

import { duplicateConnection, type RedisClient } from "../redis/connections.js";
import { HearthError } from "../errors.js";
import { functionKeys } from "../protocol/keys.js";
import { lineOfEntry, type HistoryEntry, type LogLine } from "../protocol/logs.js";

/** Entries read per XREVRANGE / XREAD while scanning for lines that match. */
const SCAN_CHUNK = 1000;
/** How long one XREAD of a follower blocks before it looks whether its client is still there. */
const FOLLOW_BLOCK_MS = 5000;

export interface LogQuery {
  /** Stream times in ms, inclusive. */
  since?: number;
  until?: number;
  invocation?: string;
  limit: number;
}

type Entry = [string, string[]];

export interface LogPage {
  /** Oldest first: the newest `limit` lines that match. */
  lines: LogLine[];
  /** The stream id a follower goes on from: every line after it is new. */
  cursor: string;
}

/** The newest `limit` lines of `fn` that match, oldest first (the stream is bounded, so is the scan). */
export async function readLogs(redis: RedisClient, fn: string, query: LogQuery): Promise<LogPage> {
  const key = functionKeys(fn).logs;
  const matching: LogLine[] = [];
  let cursor = query.since === undefined ? "0-0" : `${query.since}-0`;
  let end = query.until === undefined ? "+" : String(query.until);
  const start = query.since === undefined ? "-" : String(query.since);
  for (;;) {
    const entries = (await redis.xrevrange(key, end, start, "COUNT", SCAN_CHUNK)) as Entry[];
    if (entries.length === 0) break;
    if (end === "+") cursor = maxId(cursor, entries[0]![0]);
    for (const entry of entries) {
      const line = lineOfEntry(entry);
      if (matches(line, query)) matching.push(line);
      if (matching.length >= query.limit) break;
    }
    if (matching.length >= query.limit || entries.length < SCAN_CHUNK) break;
    end = `(${entries[entries.length - 1]![0]}`;
  }
  return { lines: matching.reverse(), cursor };
}

/**
 * The invocation's lines (its START to its REPORT), or undefined when it has none and Hearth knows
 * nothing else of it either (no history entry, no async record: one queued has no lines yet).
 */
export async function readInvocationLogs(redis: RedisClient, fn: string, id: string, limit: number): Promise<LogLine[] | undefined> {
  const { lines } = await readLogs(redis, fn, { invocation: id, limit });
  if (lines.length > 0) return lines;
  if ((await redis.exists(functionKeys(fn).invocation(id))) === 1) return [];
  const history = await readHistory(redis, fn, Number.MAX_SAFE_INTEGER);
  return history.some((entry) => entry.id === id) ? [] : undefined;
}

/** The function's most recent invocations, newest first. */
export async function readHistory(redis: RedisClient, fn: string, limit: number): Promise<HistoryEntry[]> {
  const entries = await redis.lrange(functionKeys(fn).history, 0, limit - 1);
  return entries.map((entry) => JSON.parse(entry) as HistoryEntry);
}

/** Followers of function logs in this process, each on a Redis connection of its own (XREAD BLOCK holds it). */
export class LogFollowers {
  private active = 0;

  constructor(
    private readonly redis: RedisClient,
    private readonly max: number,
  ) {}

  /** A place for one follower, or 503 when this process has as many as it allows; returns its release. */
  reserve(): () => void {
    if (this.active >= this.max) throw new HearthError(503, "TooManyFollowers", `this Hearth process already follows ${this.max} logs; try again later`);
    this.active += 1;
    let released = false;
    return () => {
      if (!released) this.active -= 1;
      released = true;
    };
  }

  /** Calls `send` with every line written after `cursor` that matches, until `signal` aborts or `maxMs` passes. */
  async follow(fn: string, cursor: string, invocation: string | undefined, signal: AbortSignal, maxMs: number, send: (lines: LogLine[]) => void): Promise<void> {
    const connection = duplicateConnection(this.redis, { connectionName: "hearth-log-follower", maxRetriesPerRequest: 0, retryStrategy: () => null, enableOfflineQueue: true });
    let stopped = false;
    const stop = (): void => {
      stopped = true;
      connection.disconnect();
    };
    signal.addEventListener("abort", stop);
    const deadline = setTimeout(stop, maxMs);
    const key = functionKeys(fn).logs;
    try {
      while (!stopped && !signal.aborted) {
        const read = (await connection.xread("COUNT", SCAN_CHUNK, "BLOCK", FOLLOW_BLOCK_MS, "STREAMS", key, cursor).catch(() => {
          // This connection does not reconnect (a restart, a failover): the follower ends, its client may follow again.
          stop();
          return null;
        })) as [string, Entry[]][] | null;
        const entries = read?.[0]?.[1] ?? [];
        if (entries.length === 0) continue;
        cursor = entries[entries.length - 1]![0];
        const lines = entries.map(lineOfEntry).filter((line) => invocation === undefined || line.invocation === invocation);
        if (lines.length > 0) send(lines);
      }
    } finally {
      clearTimeout(deadline);
      signal.removeEventListener("abort", stop);
      connection.disconnect();
    }
  }
}

/**
 * The stream's ids are when lines were stored, a moment after they were written (the time in the
 * line): the range of ids finds them, the line's own time decides.
 */
function matches(line: LogLine, { since, until, invocation }: LogQuery): boolean {
  if (invocation !== undefined && line.invocation !== invocation) return false;
  const time = Date.parse(line.time);
  return (since === undefined || time >= since) && (until === undefined || time <= until);
}

/** The later of two stream ids. */
function maxId(a: string, b: string): string {
  const [aMs = 0, aSeq = 0] = a.split("-").map(Number);
  const [bMs = 0, bSeq = 0] = b.split("-").map(Number);
  return aMs > bMs || (aMs === bMs && aSeq >= bSeq) ? a : b;
}
