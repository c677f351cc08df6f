// Sync invocation: queue the request for the function, wait for its result on this gateway's reply list.

import type { RedisClient } from "../redis/connections.js";
import { HearthError } from "../errors.js";
import type { FunctionCache } from "../functions/function-cache.js";
import type { Execution, Metrics } from "../metrics/metrics.js";
import { encodeMessage, type InvocationMeta, type ResultMeta } from "../protocol/envelope.js";
import { functionKeys, newInvocationId } from "../protocol/keys.js";
import { outcomeOfError } from "../protocol/outcome.js";
import { enqueueInvocation } from "../protocol/container-lifecycle.js";
import { functionNotFound, queueForCurrentVersion } from "./queue-outcome.js";
import type { ReplyRouter } from "./reply-router.js";

/** Extra wait past the function's own timeout, so that the container's 504 normally wins. */
const TIMEOUT_GRACE_MS = 2000;

export interface InvocationResult {
  /** The request id the function saw (Lambda's awsRequestId), sent to the caller as X-Call-Id. */
  id: string;
  status: number;
  functionError: boolean;
  body: Buffer;
}

export class Invocations {
  constructor(
    private readonly redis: RedisClient,
    private readonly functions: FunctionCache,
    private readonly replies: ReplyRouter,
    private readonly metrics: Metrics,
    /** How long a request may wait in the queue for a container before its caller gets 504. */
    private readonly queueTimeoutMs: number,
  ) {}

  async invokeSync(name: string, payload: Buffer): Promise<InvocationResult> {
    const started = performance.now();
    const { result, meta, enqueuedAt } = await this.run(name, payload).catch((error: unknown) => {
      if (error instanceof HearthError) this.metrics.observeInvocation(name, error.status, outcomeOfError(error.status, error.errorType), started);
      throw error;
    });
    this.metrics.observeInvocation(name, result.status, meta.outcome ?? (result.status === 200 ? "success" : "platform_error"), started, execution(meta, enqueuedAt));
    return result;
  }

  private async run(name: string, payload: Buffer): Promise<{ result: InvocationResult; meta: ResultMeta; enqueuedAt: number }> {
    const id = newInvocationId(name);
    const definition = await this.functions.get(name);
    if (!definition) throw functionNotFound(name);
    const waitMs = this.queueTimeoutMs + definition.timeout * 1000 + TIMEOUT_GRACE_MS;
    // Wait before queueing, so that no result can arrive ahead of its waiter.
    const reply = this.replies.waitFor(id, name, waitMs);
    // A failover may abandon it before it is awaited below: not an unhandled rejection meanwhile.
    reply.catch(() => undefined);
    const enqueuedAt = Date.now();
    try {
      await this.enqueue(name, id, payload, enqueuedAt);
    } catch (error) {
      this.replies.cancel(id);
      throw error;
    }
    const result = await reply;
    if (!result) {
      throw new HearthError(504, "Hearth.Timeout", `function ${name} did not answer within ${(waitMs / 1000).toFixed(1)} s (queued and running)`);
    }
    return { result: { id, status: result.meta.status, functionError: result.meta.functionError === true, body: result.payload }, meta: result.meta, enqueuedAt };
  }

  private async enqueue(name: string, id: string, payload: Buffer, now: number): Promise<void> {
    const keys = functionKeys(name);
    await queueForCurrentVersion(
      this.functions,
      name,
      (definition) => {
        const meta: InvocationMeta = {
          id,
          function: name,
          version: definition.version,
          replyTo: this.replies.gatewayId,
          enqueuedAt: now,
          startBy: now + this.queueTimeoutMs,
        };
        return enqueueInvocation.run(this.redis, { keys, fn: name, envelope: encodeMessage(meta, payload), expectedVersion: definition.version, now });
      },
      "requests",
    );
  }
}

/** What the container measured of a request it ran (the gateway and the containers share a clock); none for a result Hearth made. */
function execution(meta: ResultMeta, enqueuedAt: number): Execution | undefined {
  if (meta.startedAt === undefined || meta.finishedAt === undefined || meta.outcome === "throttled") return undefined;
  return { queuedSeconds: Math.max(0, meta.startedAt - enqueuedAt) / 1000, runSeconds: Math.max(0, meta.finishedAt - meta.startedAt) / 1000, cold: meta.cold === true };
}
