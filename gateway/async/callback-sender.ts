// Delivers the outcome of finished async invocations to their X-Callback-Url: POST of the result with
// X-Call-Id, X-Function-Name, X-Function-Status, X-Duration-Seconds. A failed delivery (no answer in
// time, or not 2xx) is tried again with exponential backoff; its outcome shows in the record.

import type { Redis } from "ioredis";
import type { CallbackPolicy } from "../config.js";
import { isJson } from "../invocation/http-events.js";
import type { Logger } from "../logger.js";
import { functionKeys } from "../protocol/keys.js";
import { scripts } from "../protocol/scripts.js";

/** Callbacks claimed per run; each is sent concurrently. */
const BATCH = 50;

/** The DueWork of callbacks: delivers the function's due callbacks, answers when the next one is due. */
export function deliverDueCallbacks(redis: Redis, policy: CallbackPolicy, logger: Logger): (fn: string) => Promise<number | undefined> {
  // A claim outlives one try, so that only a gateway that died mid-delivery hands it on.
  const leaseMs = policy.timeoutMs + 5_000;
  return async (fn) => {
    const keys = functionKeys(fn);
    const [ids, next] = (await scripts.claimDueCallbacks.run(redis, [keys.callbacks], [Date.now(), leaseMs, BATCH])) as [string[], string | null];
    await Promise.all(
      ids.map(async (id) => {
        const record = await redis.hgetallBuffer(keys.invocation(id));
        const error = record.callbackUrl ? await post(record, fn, policy.timeoutMs) : undefined;
        const attempts = Number(record.callbackAttempts?.toString() ?? 0) + 1;
        const outcome = error === undefined ? "delivered" : attempts < policy.attempts ? "retry" : "failed";
        if (error !== undefined) logger.warn({ function: fn, invocation: id, attempt: attempts, error }, "callback failed");
        const nextTry = Date.now() + policy.retryDelayMs * 2 ** (attempts - 1);
        await scripts.settleCallback.run(redis, [keys.callbacks, keys.stats, keys.invocation(id)], [id, outcome, Date.now(), nextTry, error ?? "", fn]);
      }),
    );
    return ids.length === BATCH ? Date.now() : next === null ? undefined : Number(next);
  };
}

/** POSTs the outcome; returns why it failed, or undefined once delivered. */
async function post(record: Record<string, Buffer>, fn: string, timeoutMs: number): Promise<string | undefined> {
  const text = (field: string): string => record[field]?.toString("utf8") ?? "";
  const body = record.result ?? Buffer.alloc(0);
  const duration = (Number(text("finishedAt")) - Number(text("startedAt") || text("finishedAt"))) / 1000;
  try {
    const response = await fetch(text("callbackUrl"), {
      method: "POST",
      headers: {
        "Content-Type": isJson(body) ? "application/json" : "application/octet-stream",
        "X-Call-Id": text("id"),
        "X-Function-Name": fn,
        "X-Function-Status": text("statusCode"),
        "X-Invocation-Status": text("status"),
        "X-Duration-Seconds": Math.max(0, duration).toFixed(3),
      },
      body: new Uint8Array(body),
      signal: AbortSignal.timeout(timeoutMs),
      redirect: "manual",
    });
    await response.body?.cancel();
    return response.ok ? undefined : `answered ${response.status}`;
  } catch (error) {
    const cause = (error as Error & { cause?: Error }).cause;
    return (error as Error).name === "TimeoutError" ? `no answer within ${timeoutMs} ms` : `${(error as Error).message}${cause ? `: ${cause.message}` : ""}`;
  }
}
