// What a caller sees through a failover of Redis: each sync answer's status and time, a hang showing as
// status 0 instead of stalling the test.

import { adminHeaders } from "./hearth.js";

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

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
