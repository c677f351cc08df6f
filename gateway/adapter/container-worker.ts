// The adapter's work in one container: check that its function is still the version it was started
// for (the code is mounted at /var/task by the invoker, from its host's code cache), start its
// language runtime, then take requests off the function's queue one at a time and send each result
// back through Redis.

import type { ChainableCommander, Redis } from "ioredis";
import { fromHash, type FunctionDefinition } from "../functions/definition.js";
import { decodeMessage, encodeMessage, errorBody, OUT_OF_MEMORY, outOfMemoryMessage, type ColdStartTimings, type InvocationMeta, type ResultMeta } from "../protocol/envelope.js";
import { functionKeys, repliesKey, type FunctionKeys } from "../protocol/keys.js";
import type { InvocationOutcome } from "../protocol/outcome.js";
import type { LogLimits } from "../protocol/logs.js";
import { queueReplies } from "../protocol/replies.js";
import { startAsyncInvocation, settleAsyncInvocation } from "../protocol/async-lifecycle.js";
import { xackSources, type StreamSource } from "../protocol/stream-sources.js";
import { finishInvocation, registerContainer, retireContainer, WAKE, type ContainerInput, type NextStep } from "../protocol/container-lifecycle.js";
import type { AdapterLogger } from "./adapter-log.js";
import { FunctionLog } from "./function-log.js";
import type { RedisNodes } from "./redis-nodes.js";
import { OutOfMemoryDetector } from "./out-of-memory.js";
import { errorMessageOf, functionErrorBody } from "./function-error.js";
import { RuntimeApi, type RuntimeFunction } from "./runtime-api.js";
import { runtimeEnvironment } from "./runtime-environment.js";
import { FunctionRuntime } from "./runtime-lifecycle.js";

export interface AdapterEnv {
  function: string;
  version: number;
  containerId: string;
  invokerId: string;
  createdAt: number;
  /** When the process began to be this container (its start; a stem cell's: its hand-over), the cold start's processStartedAt. */
  startedAt: number;
  taskRoot: string;
  bootstrap: string;
  region: string;
  /** How long a finished async invocation's record is kept. */
  retentionMs: number;
  /** The uid the language runtime (user code) runs as: not the adapter's, and no other process's. */
  runtimeUid: number;
  logs: LogLimits;
}

/** What one request came to: the HTTP status its caller gets, and the body. */
interface Outcome {
  status: number;
  body: Buffer | string;
  /** The error came from the function (its code or its runtime), not from Hearth. */
  functionError: boolean;
  /** How it ended, for the metrics. */
  outcome: InvocationOutcome;
  startedAt: number;
  finishedAt: number;
  /** performance.now() at the start and the end, for the REPORT line's duration. */
  took: number;
  /** It waited for a runtime's init (the container's first, or a replacement's): cold, and how long the init took. */
  initDurationMs?: number;
}

export class ContainerWorker {
  private readonly keys: FunctionKeys;
  private api!: RuntimeApi;
  private definition!: FunctionDefinition;
  private runtime!: FunctionRuntime;
  private readonly log: FunctionLog;
  /** The connection to the master of the function's slot: every script, the logs. */
  private readonly redis: Redis;

  constructor(
    private readonly nodes: RedisNodes,
    private readonly env: AdapterEnv,
    private readonly logger: AdapterLogger,
  ) {
    this.keys = functionKeys(env.function);
    this.redis = nodes.connectionFor(this.keys.def);
    this.log = new FunctionLog(this.redis, env.function, this.keys, env.logs, (err) => logger.error({ err }, "writing log lines failed"));
  }

  /** Serves until the container should exit (keep-alive over, superseded, drained, broken). */
  async run(): Promise<void> {
    const processStartedAt = this.env.startedAt;
    if (!(await this.loadDefinition())) return;
    const oom = await OutOfMemoryDetector.start();
    const codeLoadedAt = Date.now();
    const fn = this.runtimeFunction();
    this.api = new RuntimeApi(fn, () => this.runtime.idle());
    const port = await this.api.listen();
    const runtimeEnv = runtimeEnvironment({
      fn,
      environment: this.definition.environment,
      taskRoot: this.env.taskRoot,
      bootstrap: this.env.bootstrap,
      containerId: this.env.containerId,
      port,
    });
    const { initializer, initializationTimeout, preStop, preStopTimeout } = this.definition;
    const spec = {
      bootstrap: this.env.bootstrap,
      env: runtimeEnv,
      cwd: this.env.taskRoot,
      uid: this.env.runtimeUid,
      maxLineLength: this.env.logs.maxLineLength,
      initializer: initializer ? { handler: initializer, timeoutMs: initializationTimeout * 1000 } : undefined,
      preStop: preStop ? { handler: preStop, timeoutMs: preStopTimeout * 1000 } : undefined,
    };
    this.runtime = new FunctionRuntime(spec, this.api, this.log, oom, this.logger);
    // The container was started for queued work: its first request waits for this init.
    await this.runtime.start({ awaited: true });
    const timings: ColdStartTimings = { createdAt: this.env.createdAt, processStartedAt, codeLoadedAt, runtimeReadyAt: Date.now() };
    const first = await registerContainer.run(this.redis, { ...this.container(), now: Date.now(), timingsJson: JSON.stringify(timings) });
    await this.serve(first);
    await this.runtime.stop();
    this.api.close();
    await this.log.flush();
  }

  /** The function's definition, if it is still the version this container was started for (its code is the one mounted). */
  private async loadDefinition(): Promise<boolean> {
    const definition = fromHash(this.env.function, await this.redis.hgetall(this.keys.def));
    if (!definition || definition.version !== this.env.version) {
      this.logger.info("function was redeployed or deleted before this container started");
      return false;
    }
    this.definition = definition;
    return true;
  }

  /**
   * Runs work until the pool says exit: work handed over by register or finish directly, else what comes
   * to its inbox while it waits idle (at most its keep-alive).
   */
  private async serve(first: NextStep): Promise<void> {
    const keepAliveMs = this.definition.keepAlive * 1000;
    const { containerId } = this.env;
    let next = first;
    let idleSince = Date.now();
    while (next.kind !== "exit") {
      if (next.kind === "wait") {
        const remainingSeconds = Math.max(0.01, (idleSince + keepAliveMs - Date.now()) / 1000);
        const raw = await this.redis.blmoveBuffer(this.keys.inbox(containerId), this.keys.running(containerId), "RIGHT", "LEFT", remainingSeconds);
        if (raw && !raw.equals(WAKE)) {
          next = { kind: "run", envelope: raw };
        } else {
          // Timed out (keep-alive over), or woken (redeploy, delete, drain).
          const keepAliveExpired = !raw && Date.now() >= idleSince + keepAliveMs - 10;
          if (await retireContainer.run(this.redis, { ...this.container(), keepAliveExpired })) return;
          // Kept warm (minWarm): another keep-alive.
          if (keepAliveExpired) idleSince = Date.now();
          continue;
        }
      }
      const { meta, payload } = decodeMessage<InvocationMeta>(next.envelope);
      let outcome: Outcome;
      if (meta.startBy > 0 && Date.now() > meta.startBy) {
        const now = Date.now();
        this.log.start(meta.id, this.env.version);
        outcome = { status: 504, body: errorBody("Hearth.QueueTimeout", "no container was free to start the request before its queue time ran out"), functionError: false, outcome: "throttled", startedAt: now, finishedAt: now, took: 0 };
      } else {
        // The event goes to the runtime first; the async record's running mark follows it, off the handler's path.
        const executed = this.execute(meta, payload);
        if (meta.async) {
          startAsyncInvocation.run(this.redis, { keys: this.keys, id: meta.id, containerId, now: Date.now() }).catch((err) => this.logger.error({ err }, "marking the invocation running failed"));
        }
        outcome = await executed;
      }
      next = await this.finish(meta, outcome);
      idleSince = Date.now();
      // A runtime that failed to initialise answers what it was handed, then leaves the pool.
      if (next.kind === "wait" && this.runtime.state === "init-failed" && (await retireContainer.run(this.redis, { ...this.container(), keepAliveExpired: true }))) return;
    }
  }

  /**
   * Hands the outcome on (to the waiting gateway, or to the async invocation's record) and frees the
   * container: it says what comes next (queued work, waiting idle, or exit).
   */
  private async finish(meta: InvocationMeta, outcome: Outcome): Promise<NextStep> {
    this.reportInvocation(meta, outcome);
    const finish = { ...this.container(), leaving: this.runtime.outOfMemory };
    const pipeline = this.redis.pipeline();
    if (this.runtime.state === "broken") {
      // The outcome goes out first; the runtime that timed out or crashed is replaced before the
      // container is free again. An async outcome is awaited: it is the record's only copy.
      if (meta.async) this.queueSettle(pipeline, meta, outcome);
      if (this.runtime.outOfMemory) pipeline.hincrby(this.keys.stats, "outOfMemory", 1);
      // The reply first: the log lines never go ahead of it.
      const sent = Promise.all([meta.async ? undefined : this.sendReply(meta, outcome), this.sendWithLog(pipeline)]);
      if (meta.async || this.runtime.outOfMemory) {
        const [, replies] = await sent;
        if (meta.async) this.acknowledgeSources(settleAsyncInvocation.decode(replies[0]).sources);
      } else sent.catch((err) => this.logger.error({ err }, "sending a result failed"));
      // Started before the next request came: that one is warm.
      if (!this.runtime.outOfMemory) await this.runtime.start({ awaited: false });
      return finishInvocation.run(this.redis, { ...finish, now: Date.now() });
    }
    if (meta.async) {
      // One write: the record is settled first, as it takes the envelope off the running list that
      // finish-invocation clears.
      this.queueSettle(pipeline, meta, outcome);
      finishInvocation.queue(pipeline, { ...finish, now: Date.now() });
      const replies = await this.sendWithLog(pipeline);
      this.acknowledgeSources(settleAsyncInvocation.decode(replies[0]).sources);
      return finishInvocation.decode(replies[1]);
    }
    // Sync: freed first, so the caller's next request finds this container idle, not busy (which
    // would start another container for nothing). On one master, one write; with the reply list on
    // another master of a cluster, the result goes there once the finish is answered (a round trip
    // more, ARCHITECTURE.md says why).
    finishInvocation.queue(pipeline, { ...finish, now: Date.now() });
    const replies = this.nodes.connectionFor(repliesKey(meta.replyTo));
    if (replies === this.redis) {
      queueReplies(pipeline, meta.replyTo, [this.resultMessage(meta, outcome)]);
      return finishInvocation.decode((await this.sendWithLog(pipeline))[0]);
    }
    const [next] = await this.sendWithLog(pipeline);
    await this.sendReply(meta, outcome);
    return finishInvocation.decode(next);
  }

  /** Sends a sync result to its gateway's reply list, on the connection of that list's master. */
  private async sendReply(meta: InvocationMeta, outcome: Outcome): Promise<void> {
    const replies = this.nodes.connectionFor(repliesKey(meta.replyTo));
    const results = (await queueReplies(replies.pipeline(), meta.replyTo, [this.resultMessage(meta, outcome)]).exec()) ?? [];
    for (const [error] of results) if (error) throw error;
  }

  /**
   * Acknowledges the stream entries of the invocations a settle made final: a command of its own, sent
   * after the settle (the stream is its producer's key, maybe on another node), and not awaited: the next
   * request does not wait for it. One that fails (this container's Redis user may not write a stream
   * subscribed after it started) leaves the entry pending: the stream's reader acknowledges it when it
   * claims it and finds its invocation final.
   */
  private acknowledgeSources(sources: StreamSource[]): void {
    if (sources.length === 0) return;
    xackSources((stream) => this.nodes.connectionFor(stream), sources).catch((err: Error) => {
      // NOPERM is that expected case (ARCHITECTURE.md, "Known limits"): not worth a line per invocation.
      if (!err.message.startsWith("NOPERM")) this.logger.warn({ err }, "acknowledging a stream entry failed; the stream's reader will when it claims it");
    });
  }

  /**
   * Sends `pipeline` with the pending log lines after its commands (they never hold a reply back); its
   * replies. A failed log write is the adapter's log's business, not the invocation's.
   */
  private async sendWithLog(pipeline: ChainableCommander): Promise<unknown[]> {
    const checked = pipeline.length;
    const results = (await this.log.queue(pipeline).exec()) ?? [];
    for (const [error] of results.slice(0, checked)) if (error) throw error;
    const logError = results.slice(checked).find(([error]) => error)?.[0];
    if (logError) this.logger.error({ err: logError }, "writing log lines failed");
    return results.map(([, reply]) => reply);
  }

  /** END and REPORT (and the history entry) of an invocation that has an outcome. */
  private reportInvocation(meta: InvocationMeta, outcome: Outcome): void {
    this.log.end({
      id: meta.id,
      async: meta.async === true,
      statusCode: outcome.status,
      startedAt: outcome.startedAt,
      finishedAt: outcome.finishedAt,
      durationMs: outcome.took,
      memoryMb: this.definition.memory,
      initDurationMs: outcome.initDurationMs,
    });
  }

  private resultMessage(meta: InvocationMeta, outcome: Outcome): Buffer {
    const cold = outcome.initDurationMs !== undefined;
    const resultMeta: ResultMeta = { id: meta.id, function: this.env.function, status: outcome.status, functionError: outcome.functionError, containerId: this.env.containerId, startedAt: outcome.startedAt, finishedAt: outcome.finishedAt, outcome: outcome.outcome, cold };
    return encodeMessage(resultMeta, outcome.body);
  }

  private queueSettle(pipeline: ChainableCommander, meta: InvocationMeta, outcome: Outcome): ChainableCommander {
    return settleAsyncInvocation.queue(pipeline, {
      keys: this.keys,
      fn: this.env.function,
      id: meta.id,
      containerId: this.env.containerId,
      statusCode: outcome.status,
      result: outcome.body,
      now: outcome.finishedAt,
      retentionMs: this.env.retentionMs,
      outcome: outcome.outcome,
      runMs: outcome.finishedAt - outcome.startedAt,
    });
  }

  private async execute(meta: InvocationMeta, payload: Buffer): Promise<Outcome> {
    // The runtime exited while the container was idle: this request waits for a fresh one.
    if (this.runtime.state === "broken") await this.runtime.start({ awaited: true });
    const initDurationMs = this.runtime.takeInitDuration(meta.enqueuedAt);
    const startedAt = Date.now();
    const began = performance.now();
    const result = (status: number, body: Buffer | string, outcome: InvocationOutcome): Outcome => ({ status, body, functionError: outcome !== "success", outcome, startedAt, finishedAt: Date.now(), took: performance.now() - began, initDurationMs });
    const failed = (status: number, errorType: string, message: string, outcome: InvocationOutcome): Outcome => {
      this.log.platform(`RequestId: ${meta.id} Error: ${message}`);
      return result(status, errorBody(errorType, message), outcome);
    };

    this.log.start(meta.id, this.env.version);
    // A runtime that failed to initialise answers the request that started it with its init error.
    if (this.runtime.state === "init-failed") {
      const error = this.runtime.initError;
      this.log.platform(`RequestId: ${meta.id} Error: ${errorMessageOf(error)}`);
      return result(502, error, "function_error");
    }

    const timeoutMs = this.definition.timeout * 1000;
    const outcome = await this.runtime.invoke({ id: meta.id, payload, deadlineMs: startedAt + timeoutMs, retryCount: (meta.attempt ?? 1) - 1 }, timeoutMs);
    // Output still being read is the invocation's, ahead of its END line (one turn when there is none).
    await this.log.drain();
    switch (outcome.kind) {
      case "response":
        return result(200, outcome.body, "success");
      case "error":
        return result(502, functionErrorBody(outcome.body, outcome.errorType ?? "Unhandled"), "function_error");
      case "response-too-large":
        return result(502, errorBody("Function.ResponseSizeTooLarge", `response payload of ${outcome.bytes} bytes exceeds the limit`), "function_error");
      case "timeout":
        return failed(504, "Sandbox.Timedout", `Task timed out after ${this.definition.timeout.toFixed(2)} seconds`, "timeout");
      case OUT_OF_MEMORY:
        return failed(502, OUT_OF_MEMORY, outOfMemoryMessage(this.env.function, this.definition.memory), "out_of_memory");
      case "exit":
        return failed(502, "Runtime.ExitError", `Runtime exited with error: ${outcome.how}`, "function_error");
    }
  }

  /** This container, as the pool scripts take it. */
  private container(): ContainerInput {
    return { keys: this.keys, fn: this.env.function, containerId: this.env.containerId, version: this.env.version };
  }

  private runtimeFunction(): RuntimeFunction {
    const { definition, env } = this;
    return {
      name: env.function,
      version: env.version,
      handler: definition.handler,
      memoryMb: definition.memory,
      timeoutSeconds: definition.timeout,
      region: env.region,
      arn: `arn:aws:lambda:${env.region}:000000000000:function:${env.function}`,
    };
  }
}
