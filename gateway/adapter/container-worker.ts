// The adapter's work in one container: check that its function is still the version it was started
// for (the code is mounted at /var/task by the invoker, from its host's code cache), start its
// language runtime, then take requests off the function's queue one at a time and send each result
// back through Redis.

import type { ChainableCommander, Redis } from "ioredis";
import { fromHash, type FunctionDefinition } from "../functions/definition.js";
import { formatContainerRecord, type ContainerState } from "../protocol/container-record.js";
import { decodeMessage, encodeMessage, errorBody, OUT_OF_MEMORY, outOfMemoryMessage, type ColdStartTimings, type InvocationMeta, type ResultMeta } from "../protocol/envelope.js";
import { functionKeys, type FunctionKeys } from "../protocol/keys.js";
import type { InvocationOutcome } from "../protocol/outcome.js";
import type { LogLimits } from "../protocol/logs.js";
import { queueReplies } from "../protocol/replies.js";
import { scripts } from "../protocol/scripts.js";
import type { AdapterLogger } from "./adapter-log.js";
import { FunctionLog } from "./function-log.js";
import { OutOfMemoryDetector } from "./out-of-memory.js";
import { RuntimeApi, type Readiness, type RuntimeFunction } from "./runtime-api.js";
import { runtimeEnvironment } from "./runtime-environment.js";
import { RuntimeProcess } from "./runtime-process.js";

/** Like Lambda's init phase limit: a runtime that is not asking for work by then has failed. */
const INIT_TIMEOUT_MS = 10_000;
/** How long the output of a runtime whose init failed is waited for, at most, for the error's last lines. */
const INIT_OUTPUT_WAIT_MS = 250;
/**
 * A runtime idle this long is frozen. Short enough that what a handler leaves running rarely runs on
 * between invocations; long enough that back-to-back requests pay no signals (two per invocation,
 * about 0.1 ms of latency and 0.2 ms of CPU on these machines).
 */
const FREEZE_AFTER_IDLE_MS = 20;

export interface AdapterEnv {
  function: string;
  version: number;
  containerId: string;
  invokerId: string;
  createdAt: number;
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
}

export class ContainerWorker {
  private readonly keys: FunctionKeys;
  private api!: RuntimeApi;
  private freezeTimer?: NodeJS.Timeout;
  private definition!: FunctionDefinition;
  private runtimeEnv!: NodeJS.ProcessEnv;
  private runtime!: RuntimeProcess;
  private readiness!: Readiness;
  /** The runtime process timed out or exited: it must be replaced before it serves again. */
  private runtimeBroken = false;
  private oom!: OutOfMemoryDetector;
  /**
   * The kernel killed the runtime for the memory limit. The container retires rather than start
   * another runtime: what filled its memory may be files in /tmp (a tmpfs), which outlive the process.
   */
  private outOfMemory = false;
  private clientId = 0;
  /** No request served yet: the next one waited for this container's cold start. */
  private cold = true;
  private readonly log: FunctionLog;
  /** How long the current runtime took to be ready, reported with the container's first invocation (its cold start). */
  private initDurationMs?: number;

  constructor(
    private readonly redis: Redis,
    private readonly env: AdapterEnv,
    private readonly logger: AdapterLogger,
  ) {
    this.keys = functionKeys(env.function);
    this.log = new FunctionLog(redis, env.function, this.keys, env.logs, (err) => logger.error({ err }, "writing log lines failed"));
  }

  /** Serves until the container should exit (keep-alive over, superseded, drained, broken). */
  async run(): Promise<void> {
    const processStartedAt = Math.round(performance.timeOrigin);
    if (!(await this.loadDefinition())) return;
    this.oom = await OutOfMemoryDetector.start();
    const codeLoadedAt = Date.now();
    const fn = this.runtimeFunction();
    this.api = new RuntimeApi(fn, () => this.freezeWhenIdle());
    const port = await this.api.listen();
    this.runtimeEnv = runtimeEnvironment({
      fn,
      environment: this.definition.environment,
      taskRoot: this.env.taskRoot,
      bootstrap: this.env.bootstrap,
      containerId: this.env.containerId,
      port,
    });
    await this.startRuntime();
    const timings: ColdStartTimings = { createdAt: this.env.createdAt, processStartedAt, codeLoadedAt, runtimeReadyAt: Date.now() };
    this.clientId = Number(await this.redis.client("ID"));
    const registered = await scripts.registerContainer.run(
      this.redis,
      [this.keys.def, this.keys.containers, this.keys.draining],
      [this.env.containerId, this.env.version, this.record("idle"), this.env.function, JSON.stringify(timings)],
    );
    if (registered === 1) await this.serve();
    clearTimeout(this.freezeTimer);
    await this.runtime.kill();
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

  private async serve(): Promise<void> {
    const keepAliveMs = this.definition.keepAlive * 1000;
    let idleSince = Date.now();
    for (;;) {
      const remainingSeconds = Math.max(0.01, (idleSince + keepAliveMs - Date.now()) / 1000);
      const raw = await this.redis.blmoveBuffer(this.keys.queue, this.keys.running(this.env.containerId), "RIGHT", "LEFT", remainingSeconds);
      if (!raw) {
        // Timed out (keep-alive over) or unblocked by an invoker (redeploy, delete, drain).
        const keepAliveOver = Date.now() >= idleSince + keepAliveMs - 10;
        if ((await this.runScript(scripts.retireContainer, [this.keys.def, this.keys.queue, this.keys.containers, this.keys.draining], [this.env.containerId, this.env.version, keepAliveOver ? "1" : "0", this.env.function])) === 1) return;
        continue;
      }
      const { meta, payload } = decodeMessage<InvocationMeta>(raw);
      if (meta.version > this.env.version) {
        await this.runScript(scripts.requeueInvocation, this.runningKeys(), [this.env.containerId, this.env.function]);
        return;
      }
      let outcome: Outcome;
      if (meta.startBy > 0 && Date.now() > meta.startBy) {
        const now = Date.now();
        this.log.start(meta.id, this.env.version);
        outcome = { status: 504, body: errorBody("Hearth.QueueTimeout", "no container was free to start the request before its queue time ran out"), functionError: false, outcome: "throttled", startedAt: now, finishedAt: now, took: 0 };
      } else {
        // The event goes to the runtime first; the busy mark follows it, off the handler's path.
        const executed = this.execute(meta, payload);
        this.markStarted(meta).catch((err) => this.logger.error({ err }, "marking the container busy failed"));
        outcome = await executed;
      }
      if ((await this.finish(meta, outcome)) !== 1 || !this.readiness.ready) return;
      idleSince = Date.now();
    }
  }

  private markStarted(meta: InvocationMeta): Promise<unknown> {
    const keys = [this.keys.def, this.keys.queue, this.keys.containers, this.keys.asyncQueued];
    const args = [this.env.containerId, this.record("busy"), this.env.function];
    if (meta.async) return this.runScript(scripts.startInvocation, [...keys, this.keys.invocation(meta.id)], [...args, meta.id, Date.now()]);
    return this.runScript(scripts.startInvocation, keys, args);
  }

  /**
   * Hands the outcome on (to the waiting gateway, or to the async invocation's record) and marks the
   * container idle again. Returns 1 when it takes the next request, 0 when it must exit.
   */
  private async finish(meta: InvocationMeta, outcome: Outcome): Promise<unknown> {
    const finishArgs = [this.env.containerId, this.env.version, this.record("idle"), this.env.function];
    this.reportInvocation(meta, outcome);
    if (this.runtimeBroken) {
      // The outcome goes out first; the runtime that timed out or crashed is replaced before the
      // container is idle again. An async outcome is awaited: it is the record's only copy.
      const pipeline = this.queueOutcome(this.redis.pipeline(), meta, outcome);
      if (this.outOfMemory) pipeline.hincrby(this.keys.stats, "outOfMemory", 1);
      const sent = this.sendWithLog(pipeline);
      if (meta.async || this.outOfMemory) await sent;
      else sent.catch((err) => this.logger.error({ err }, "sending a result failed"));
      if (this.outOfMemory) return this.retire();
      await this.restartRuntime();
      // Started before the next request came: that one is warm.
      this.initDurationMs = undefined;
      return this.runScript(scripts.finishInvocation, this.runningKeys(), finishArgs);
    }
    // One write. Sync: idle first, so the caller's next request finds this container idle, not busy
    // (which would start another container for nothing). Async: the record is settled first, as it
    // takes the envelope off the running list that finish-invocation clears.
    const pipeline = this.redis.pipeline();
    if (meta.async) this.queueOutcome(pipeline, meta, outcome);
    scripts.finishInvocation.queue(pipeline, this.runningKeys(), finishArgs);
    if (!meta.async) this.queueOutcome(pipeline, meta, outcome);
    return (await this.sendWithLog(pipeline))[meta.async ? 1 : 0];
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
    const cold = this.initDurationMs;
    this.initDurationMs = undefined;
    this.log.end({
      id: meta.id,
      async: meta.async === true,
      statusCode: outcome.status,
      startedAt: outcome.startedAt,
      finishedAt: outcome.finishedAt,
      durationMs: outcome.took,
      memoryMb: this.definition.memory,
      initDurationMs: cold,
    });
  }

  private queueOutcome(pipeline: ChainableCommander, meta: InvocationMeta, outcome: Outcome): ChainableCommander {
    const cold = this.takeCold();
    if (!meta.async) {
      const resultMeta: ResultMeta = { id: meta.id, function: this.env.function, status: outcome.status, functionError: outcome.functionError, containerId: this.env.containerId, startedAt: outcome.startedAt, finishedAt: outcome.finishedAt, outcome: outcome.outcome, cold };
      return queueReplies(pipeline, meta.replyTo, [encodeMessage(resultMeta, outcome.body)]);
    }
    const keys = this.keys;
    return scripts.settleAsyncInvocation.queue(
      pipeline,
      [keys.def, keys.running(this.env.containerId), keys.retries, keys.deadLetters, keys.callbacks, keys.stats, keys.invocation(meta.id)],
      [meta.id, outcome.status, outcome.body, outcome.finishedAt, Math.random(), this.env.retentionMs, this.env.function, outcome.outcome, outcome.finishedAt - outcome.startedAt],
    );
  }

  private takeCold(): boolean {
    const cold = this.cold;
    this.cold = false;
    return cold;
  }

  private async execute(meta: InvocationMeta, payload: Buffer): Promise<Outcome> {
    const startedAt = Date.now();
    const began = performance.now();
    const result = (status: number, body: Buffer | string, outcome: InvocationOutcome): Outcome => ({ status, body, functionError: outcome !== "success", outcome, startedAt, finishedAt: Date.now(), took: performance.now() - began });
    const failed = (status: number, errorType: string, message: string, outcome: InvocationOutcome): Outcome => {
      this.log.platform(`RequestId: ${meta.id} Error: ${message}`);
      return result(status, errorBody(errorType, message), outcome);
    };

    // The runtime exited while the container was idle.
    if (this.runtimeBroken) await this.restartRuntime();
    this.log.start(meta.id, this.env.version);
    // A runtime that failed to initialise answers the request that started it with its init error.
    if (!this.readiness.ready) {
      const error = normalizeError(this.readiness.error, "Runtime.InitError");
      this.log.platform(`RequestId: ${meta.id} Error: ${(JSON.parse(error) as { errorMessage: string }).errorMessage}`);
      return result(502, error, "function_error");
    }

    const timeoutMs = this.definition.timeout * 1000;
    const timer = setTimeout(() => this.api.interrupt({ kind: "timeout" }), timeoutMs);
    clearTimeout(this.freezeTimer);
    this.runtime.thaw();
    const outcome = await this.api.invoke({ id: meta.id, payload, deadlineMs: startedAt + timeoutMs, retryCount: (meta.attempt ?? 1) - 1 });
    clearTimeout(timer);
    // Output still being read is the invocation's, ahead of its END line (one turn when there is none).
    await this.log.drain();
    switch (outcome.kind) {
      case "response":
        return result(200, outcome.body, "success");
      case "error":
        return result(502, normalizeError(outcome.body, outcome.errorType ?? "Unhandled"), "function_error");
      case "response-too-large":
        return result(502, errorBody("Function.ResponseSizeTooLarge", `response payload of ${outcome.bytes} bytes exceeds the limit`), "function_error");
      case "timeout":
        // Stop the handler now (it may be spinning); the replacement runtime starts after the reply.
        this.runtimeBroken = true;
        await this.runtime.kill();
        return failed(504, "Sandbox.Timedout", `Task timed out after ${this.definition.timeout.toFixed(2)} seconds`, "timeout");
      case "exit":
        await this.runtime.drained;
        if (outcome.how === "signal: SIGKILL" && (await this.oom.killedSinceLastLook())) {
          this.outOfMemory = true;
          return failed(502, OUT_OF_MEMORY, outOfMemoryMessage(this.env.function, this.definition.memory), "out_of_memory");
        }
        return failed(502, "Runtime.ExitError", `Runtime exited with error: ${outcome.how}`, "function_error");
    }
  }

  private async startRuntime(): Promise<void> {
    this.log.beginInit();
    const began = performance.now();
    const runtime = new RuntimeProcess(this.env.bootstrap, this.runtimeEnv, this.env.taskRoot, this.env.runtimeUid, this.log.write, this.env.logs.maxLineLength);
    this.runtime = runtime;
    this.runtimeBroken = false;
    // One listener for the life of the process: it ends a running invocation when the runtime dies.
    void runtime.exited.then((how) => {
      if (this.runtime !== runtime) return;
      this.runtimeBroken = true;
      this.api.interrupt({ kind: "exit", how });
    });
    let timer: NodeJS.Timeout | undefined;
    this.readiness = await Promise.race<Readiness>([
      this.api.waitReady(),
      runtime.exited.then((how) => ({ ready: false, error: Buffer.from(errorBody("Runtime.ExitError", `Runtime exited during init: ${how}`)) })),
      new Promise((resolve) => (timer = setTimeout(() => resolve({ ready: false, error: Buffer.from(errorBody("Runtime.InitTimeout", `runtime did not start within ${INIT_TIMEOUT_MS / 1000} s`)) }), INIT_TIMEOUT_MS))),
    ]);
    clearTimeout(timer);
    this.initDurationMs = performance.now() - began;
    if (!this.readiness.ready) {
      // The cause is in what the runtime wrote (a bad NODE_OPTIONS, an import error): its last lines go
      // with the error. A runtime past its init time may still run: its output is not waited for then.
      await Promise.race([runtime.drained, new Promise((resolve) => setTimeout(resolve, INIT_OUTPUT_WAIT_MS))]);
      this.readiness = { ready: false, error: withLogs(this.readiness.error, this.log.endInit()) };
      this.logger.warn({ error: this.readiness.error.toString() }, "runtime failed to initialise");
    } else {
      this.log.endInit();
    }
    // Not awaited: the init's lines go out ahead of whatever the adapter sends next.
    this.log.flush().catch((err: unknown) => this.logger.error({ err }, "writing log lines failed"));
  }

  private freezeWhenIdle(): void {
    clearTimeout(this.freezeTimer);
    const runtime = this.runtime;
    this.freezeTimer = setTimeout(() => runtime.freeze(), FREEZE_AFTER_IDLE_MS);
  }

  /** After a timeout or crash the container is reused only once a fresh runtime is initialised. */
  private async restartRuntime(): Promise<void> {
    await this.runtime.kill();
    this.api.reset();
    await this.startRuntime();
  }

  /** Leaves the pool for good after its request is answered: the running list cleared, the record gone. Returns 0 (exit). */
  private async retire(): Promise<0> {
    await this.runScript(scripts.finishInvocation, this.runningKeys(), [this.env.containerId, this.env.version, this.record("idle"), this.env.function]);
    await this.runScript(scripts.retireContainer, [this.keys.def, this.keys.queue, this.keys.containers, this.keys.draining], [this.env.containerId, this.env.version, "1", this.env.function]);
    return 0;
  }

  private runningKeys(): string[] {
    return [this.keys.def, this.keys.queue, this.keys.containers, this.keys.draining, this.keys.running(this.env.containerId)];
  }

  private runScript(script: (typeof scripts)[keyof typeof scripts], keys: string[], args: (string | number)[]): Promise<unknown> {
    return script.run(this.redis, keys, args);
  }

  private record(state: ContainerState): string {
    return formatContainerRecord({ state, version: this.env.version, invokerId: this.env.invokerId, clientId: this.clientId, since: Date.now() });
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

/** An init error with the last lines the runtime wrote, as `logs`. */
function withLogs(error: Buffer, lines: string[]): Buffer {
  const parsed = JSON.parse(normalizeError(error, "Runtime.InitError")) as Record<string, unknown>;
  return Buffer.from(JSON.stringify({ ...parsed, logs: lines }));
}

/** Every runtime's error in one shape: {errorMessage, errorType, stackTrace} (Node's `trace` included). */
function normalizeError(body: Buffer, fallbackType: string): string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString("utf8"));
  } catch {
    return errorBody(fallbackType, body.toString("utf8"));
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) return errorBody(fallbackType, JSON.stringify(parsed));
  const error = parsed as Record<string, unknown>;
  return JSON.stringify({
    ...error,
    errorMessage: typeof error.errorMessage === "string" ? error.errorMessage : "",
    errorType: typeof error.errorType === "string" ? error.errorType : fallbackType,
    stackTrace: error.stackTrace ?? error.trace ?? [],
  });
}
