// Delivers the outcome of finished async invocations to their X-Callback-Url: POST of the result with
// X-Call-Id, X-Function-Name, X-Function-Status, X-Duration-Seconds, to hosts the callback policy lets
// it reach (callback-destinations.ts). A failed delivery (no answer in time, or not 2xx) is tried again
// with exponential backoff, one the policy refuses is not; its outcome shows in the record.

import http from "node:http";
import https from "node:https";
import type { RedisClient } from "../redis/connections.js";
import type { CallbackPolicy } from "../config.js";
import { isJson } from "../invocation/http-events.js";
import type { Logger } from "../logger.js";
import { CallbackRefused, type CallbackDestinations } from "./callback-destinations.js";
import { functionKeys } from "../protocol/keys.js";
import { claimDueCallbacks, settleCallback } from "../protocol/async-lifecycle.js";

/** Callbacks claimed per run; each is sent concurrently. */
const BATCH = 50;

/** The DueWork of callbacks: delivers the function's due callbacks, answers when the next one is due. */
export function deliverDueCallbacks(redis: RedisClient, policy: CallbackPolicy, destinations: CallbackDestinations, logger: Logger): (fn: string) => Promise<number | undefined> {
  // A claim outlives one try, so that only a gateway that died mid-delivery hands it on.
  const leaseMs = policy.timeoutMs + 5_000;
  return async (fn) => {
    const keys = functionKeys(fn);
    const { ids, nextDue } = await claimDueCallbacks.run(redis, { keys, now: Date.now(), leaseMs, maxCount: BATCH });
    await Promise.all(
      ids.map(async (id) => {
        const record = await redis.hgetallBuffer(keys.invocation(id));
        const failure = record.callbackUrl ? await post(record, fn, policy.timeoutMs, destinations) : undefined;
        const attempts = Number(record.callbackAttempts?.toString() ?? 0) + 1;
        const outcome = failure === undefined ? "delivered" : attempts < policy.attempts && !failure.final ? "retry" : "failed";
        if (failure) logger.warn({ function: fn, invocation: id, attempt: attempts, error: failure.recorded, cause: failure.cause }, "callback failed");
        const nextTry = Date.now() + policy.retryDelayMs * 2 ** (attempts - 1);
        await settleCallback.run(redis, { keys, fn, id, outcome, now: Date.now(), nextDue: nextTry, error: failure?.recorded ?? "" });
      }),
    );
    return ids.length === BATCH ? Date.now() : nextDue;
  };
}

/** Why a try failed: what the record says, and for the log what happened. */
interface Failure {
  recorded: string;
  cause?: unknown;
  /** Trying again cannot help: the policy refused the host. */
  final?: boolean;
}

/**
 * POSTs the outcome; returns why it failed, or undefined once delivered. What it records says only
 * whether an HTTP answer came (and its status) or the policy refused the host: a refused connection,
 * a reset and a silent port read the same, so the record is no port scanner. The log has the cause.
 */
async function post(record: Record<string, Buffer>, fn: string, timeoutMs: number, destinations: CallbackDestinations): Promise<Failure | undefined> {
  const text = (field: string): string => record[field]?.toString("utf8") ?? "";
  const body = record.result ?? Buffer.alloc(0);
  const duration = (Number(text("finishedAt")) - Number(text("startedAt") || text("finishedAt"))) / 1000;
  try {
    const url = new URL(text("callbackUrl"));
    const refused = destinations.refusal(url);
    if (refused) throw new CallbackRefused(refused);
    const status = await send(url, destinations, timeoutMs, body, {
      "Content-Type": isJson(body) ? "application/json" : "application/octet-stream",
      "Content-Length": String(body.length),
      "X-Call-Id": text("id"),
      "X-Function-Name": fn,
      "X-Function-Status": text("statusCode"),
      "X-Invocation-Status": text("status"),
      "X-Duration-Seconds": Math.max(0, duration).toFixed(3),
    });
    return status >= 200 && status < 300 ? undefined : { recorded: `answered ${status}` };
  } catch (error) {
    if (error instanceof CallbackRefused) return { recorded: "refused by the callback policy (see HEARTH_CALLBACK_ALLOW)", cause: error.message, final: true };
    return { recorded: "no HTTP answer", cause: error };
  }
}

/**
 * One POST; resolves with the answer's status. Names resolve through the policy's lookup, so the
 * connection goes to an address it checked. Redirects are answers, not followed; the body is not read.
 */
function send(url: URL, destinations: CallbackDestinations, timeoutMs: number, body: Buffer, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const request = (url.protocol === "https:" ? https : http).request(
      url,
      { method: "POST", headers, lookup: destinations.lookup, agent: false, signal: AbortSignal.timeout(timeoutMs) },
      (response) => {
        resolve(response.statusCode ?? 0);
        response.destroy();
      },
    );
    request.on("error", reject);
    request.end(body);
  });
}
