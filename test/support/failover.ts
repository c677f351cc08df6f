// What a caller sees through a failover of Redis: each sync answer's status and time, a hang showing as
// status 0 instead of stalling the test.

import { Cluster, type Redis } from "ioredis";
import { expect } from "vitest";
import { decodeMessage, type InvocationMeta } from "../../gateway/protocol/envelope.js";
import { functionKeys } from "../../gateway/protocol/keys.js";
import { adminHeaders } from "./hearth.js";

/** A caller that Redis cannot serve (failover) hears so within this. */
export const UNAVAILABLE_BOUND_MS = 5_000;
/**
 * Any sync caller is answered within this, failover or not: no hang. A 200 right after the failover may
 * wait for its function's async backlog and for a cold start (the containers went with the old master).
 */
export const ANSWER_BOUND_MS = 15_000;

export interface TimedAnswer {
  status: number;
  ms: number;
  errorType?: string;
  errorMessage?: string;
  /** The async invocation's id, on a 202. */
  id?: string;
}

/** POSTs `event` to `path` (`/function/<f>` or `/async-function/<f>`), giving up after 20 s (status 0). */
export async function timedPost(url: string, path: string, event: unknown): Promise<TimedAnswer> {
  const started = Date.now();
  try {
    const response = await fetch(`${url}${path}`, {
      method: "POST",
      headers: { ...adminHeaders, "content-type": "application/json" },
      body: JSON.stringify(event),
      signal: AbortSignal.timeout(20_000),
    });
    const body = (await response.json()) as { errorType?: string; errorMessage?: string; id?: string };
    return { status: response.status, ms: Date.now() - started, errorType: body.errorType, errorMessage: body.errorMessage, id: body.id };
  } catch {
    return { status: 0, ms: Date.now() - started };
  }
}

/** How many answers had each status, for the test's log line. */
export function countByStatus(answers: Array<{ status: number }>): Record<number, number> {
  return answers.reduce<Record<number, number>>((counts, { status }) => ({ ...counts, [status]: (counts[status] ?? 0) + 1 }), {});
}

/** The slowest answer of a status (0 when none had it), for the test's log line. */
export function slowest(answers: TimedAnswer[], status: number): number {
  return Math.max(0, ...answers.filter((answer) => answer.status === status).map(({ ms }) => ms));
}

/**
 * Where a function's work stands in Redis: its queue, idle list, container records, and each container's
 * inbox and running list (envelopes by id and caller), with every reply list's length. Printed when a
 * sync caller hangs through a failover, to tell a lost result from a request nobody took.
 */
export async function functionState(redis: Redis | Cluster, fn: string): Promise<object> {
  const keys = functionKeys(fn);
  const envelopes = async (key: string): Promise<string[]> =>
    (await redis.lrangeBuffer(key, 0, -1)).map((raw) => {
      const text = raw.toString();
      if (!text.startsWith("{") && text.length < 16) return text;
      const { meta } = decodeMessage<InvocationMeta>(raw);
      return `${meta.id} for ${meta.replyTo || "async"}`;
    });
  const containers = await redis.hgetall(keys.containers);
  const byContainer: Record<string, object> = {};
  for (const id of Object.keys(containers)) byContainer[id] = { record: containers[id], inbox: await envelopes(keys.inbox(id)), running: await envelopes(keys.running(id)) };
  const nodes = redis instanceof Cluster ? redis.nodes("master") : [redis];
  const replyLists: Record<string, number> = {};
  for (const node of nodes) for (const key of await node.keys("hearth:replies:*")) replyLists[key] = await node.llen(key);
  return { at: Date.now(), queue: await envelopes(keys.queue), idle: await redis.lrange(keys.idle, 0, -1), draining: await redis.smembers(keys.draining), containers: byContainer, replyLists };
}

/**
 * Every sync caller through a failover got its result or a quick 503 Hearth.Unavailable, and nobody hung.
 * `hangs` are what was seen in Redis when a caller gave up (functionState), printed on failure.
 */
export function expectQuickSyncAnswers(answers: TimedAnswer[], hangs: object[] = []): void {
  if (hangs.length > 0) console.log(`sync callers hung; what Redis held as each gave up: ${JSON.stringify(hangs, null, 1)}`);
  for (const answer of answers) {
    expect([200, 503]).toContain(answer.status);
    if (answer.status === 503) {
      expect(answer.errorType).toBe("Hearth.Unavailable");
      expect(answer.ms).toBeLessThan(UNAVAILABLE_BOUND_MS);
    }
    expect(answer.ms).toBeLessThan(ANSWER_BOUND_MS);
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
