// What a caller sees through a failover of Redis: each sync answer's status and time, a hang showing as
// status 0 instead of stalling the test.

import { expect } from "vitest";
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

/** Every sync caller through a failover got its result or a quick 503 Hearth.Unavailable, and nobody hung. */
export function expectQuickSyncAnswers(answers: TimedAnswer[]): void {
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
