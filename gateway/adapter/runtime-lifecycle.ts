// The language runtime's life in one container: started, initialised (or not), frozen between
// invocations, broken by a timeout or an exit, replaced, stopped. The states and the events that move
// between them are in TRANSITIONS below and nowhere else; an event a state does not list is a bug in
// the adapter and throws.

import { randomUUID } from "node:crypto";
import { errorBody, OUT_OF_MEMORY } from "../protocol/envelope.js";
import type { AdapterLogger } from "./adapter-log.js";
import { errorMessageOf, functionErrorBody, parseObject } from "./function-error.js";
import type { FunctionLog } from "./function-log.js";
import type { OutOfMemoryDetector } from "./out-of-memory.js";
import type { Invocation, LifecycleHook, RuntimeApi, RuntimeOutcome } from "./runtime-api.js";
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
/** The error type of an initializer that failed, timed out or took its runtime down: the container serves nothing. */
export const INITIALIZER_ERROR = "Function.InitializerError";

export type RuntimeState =
  /** No process yet. */
  | "created"
  /** A process runs its init (then the function's initializer, if it has one): it has not asked for work yet. */
  | "initializing"
  /** It asked for work: it waits for an invocation or runs one. */
  | "ready"
  /** Idle and stopped (SIGSTOP): nothing of it runs until it is thawed for the next invocation. */
  | "frozen"
  /** Its init failed (an init error, an exit, the init timeout): it answers with that error, and serves nothing. */
  | "init-failed"
  /** It timed out or exited after its init: it is replaced before it serves again (or the container retires). */
  | "broken"
  /** Killed for good: the container is leaving. */
  | "stopped";

export type RuntimeEvent = "start" | "initialized" | "init-failed" | "freeze" | "thaw" | "timeout" | "exit" | "stop";

/**
 * Every legal move. An exit while initializing is the init's to report (as init-failed); after an init
 * failure, a timeout or a stop, the process's exit is expected and changes nothing.
 */
const TRANSITIONS: Record<RuntimeState, Partial<Record<RuntimeEvent, RuntimeState>>> = {
  created: { start: "initializing", stop: "stopped" },
  initializing: { initialized: "ready", "init-failed": "init-failed", exit: "initializing", stop: "stopped" },
  ready: { freeze: "frozen", timeout: "broken", exit: "broken", stop: "stopped" },
  frozen: { thaw: "ready", exit: "broken", stop: "stopped" },
  "init-failed": { exit: "init-failed", stop: "stopped" },
  broken: { start: "initializing", exit: "broken", stop: "stopped" },
  stopped: { exit: "stopped" },
};

/** The state `event` leads to from `state`; throws for a move the table does not list. */
export function nextState(state: RuntimeState, event: RuntimeEvent): RuntimeState {
  const next = TRANSITIONS[state][event];
  if (!next) throw new Error(`runtime lifecycle: no transition from ${state} on ${event}`);
  return next;
}

/** How an invocation ended, as the runtime's lifecycle tells it: the runtime API's outcomes, and out of memory. */
export type InvocationResult = RuntimeOutcome | { kind: typeof OUT_OF_MEMORY };

export interface RuntimeSpec {
  bootstrap: string;
  env: NodeJS.ProcessEnv;
  cwd: string;
  /** The uid the runtime (user code) runs as. */
  uid: number;
  maxLineLength: number;
  /** Function Compute's lifecycle hooks the function names. */
  initializer?: HookSpec;
  preStop?: HookSpec;
}

export interface HookSpec {
  handler: string;
  timeoutMs: number;
}

export class FunctionRuntime {
  private current: RuntimeState = "created";
  private process?: RuntimeProcess;
  private freezeTimer?: NodeJS.Timeout;
  /** The error the init failed with (init-failed), with its last output lines as `logs`. */
  private failedInit?: Buffer;
  /** How long the last init took and when it ended, until an invocation that waited for it claims it (takeInitDuration). */
  private unclaimedInit?: { ms: number; readyAt: number };
  /**
   * The kernel killed the runtime for the memory limit. The container retires rather than start
   * another runtime: what filled its memory may be files in /tmp (a tmpfs), which outlive the process.
   */
  private killedForMemory = false;

  constructor(
    private readonly spec: RuntimeSpec,
    private readonly api: RuntimeApi,
    private readonly log: FunctionLog,
    private readonly oom: OutOfMemoryDetector,
    private readonly logger: AdapterLogger,
  ) {}

  get state(): RuntimeState {
    return this.current;
  }

  /** Broken for the memory limit: the container must retire instead of starting another runtime. */
  get outOfMemory(): boolean {
    return this.killedForMemory;
  }

  /** The init error a failed runtime answers with. */
  get initError(): Buffer {
    if (this.current !== "init-failed" || !this.failedInit) throw new Error(`runtime lifecycle: no init error in state ${this.current}`);
    return this.failedInit;
  }

  /**
   * Starts a runtime (the first, or the replacement of a broken one) and waits for its init to end.
   * `awaited`: a request waits for this init, and is cold; a runtime replaced ahead of any request is not.
   */
  async start({ awaited }: { awaited: boolean }): Promise<void> {
    this.move("start");
    clearTimeout(this.freezeTimer);
    if (this.process) {
      await this.process.kill();
      this.api.reset();
    }
    this.log.beginInit();
    const began = performance.now();
    const runtime = new RuntimeProcess(this.spec.bootstrap, this.spec.env, this.spec.cwd, this.spec.uid, this.log.write, this.spec.maxLineLength);
    this.process = runtime;
    // One listener for the life of the process: it ends a running invocation when the runtime dies.
    void runtime.exited.then((how) => {
      if (this.process !== runtime) return;
      this.move("exit");
      this.api.interrupt({ kind: "exit", how });
    });
    let timer: NodeJS.Timeout | undefined;
    const readiness = await Promise.race([
      this.api.waitReady(),
      runtime.exited.then((how) => ({ ready: false as const, error: Buffer.from(errorBody("Runtime.ExitError", `Runtime exited during init: ${how}`)) })),
      new Promise<{ ready: false; error: Buffer }>((resolve) => (timer = setTimeout(() => resolve({ ready: false, error: Buffer.from(errorBody("Runtime.InitTimeout", `runtime did not start within ${INIT_TIMEOUT_MS / 1000} s`)) }), INIT_TIMEOUT_MS))),
    ]);
    clearTimeout(timer);
    const initializerError = readiness.ready ? await this.runInitializer() : readiness.error;
    this.unclaimedInit = awaited ? { ms: performance.now() - began, readyAt: Date.now() } : undefined;
    if (!initializerError) {
      this.log.endInit();
      this.move("initialized");
    } else {
      // The cause is in what the runtime wrote (a bad NODE_OPTIONS, an import error): its last lines go
      // with the error. A runtime past its init time may still run: its output is not waited for then.
      await Promise.race([runtime.drained, new Promise((resolve) => setTimeout(resolve, INIT_OUTPUT_WAIT_MS))]);
      this.failedInit = withLogs(initializerError, this.log.endInit());
      this.move("init-failed");
      this.logger.warn({ error: this.failedInit.toString() }, "runtime failed to initialise");
    }
    // Not awaited: the init's lines go out ahead of whatever the adapter sends next.
    this.log.flush().catch((err: unknown) => this.logger.error({ err }, "writing log lines failed"));
  }

  /**
   * The duration of the init the calling invocation (queued at `enqueuedAt`) waited for, once; undefined
   * when it waited for none (warm): it came after the init was over, as to a container kept warm (minWarm).
   */
  takeInitDuration(enqueuedAt: number): number | undefined {
    const init = this.unclaimedInit;
    this.unclaimedInit = undefined;
    return init && enqueuedAt < init.readyAt ? init.ms : undefined;
  }

  /** Runs one invocation on a ready or frozen runtime, within `timeoutMs`; a timeout or an exit leaves it broken. */
  async invoke(invocation: Invocation, timeoutMs: number): Promise<InvocationResult> {
    clearTimeout(this.freezeTimer);
    if (this.current === "frozen") {
      this.process!.thaw();
      this.move("thaw");
    }
    const timer = setTimeout(() => this.api.interrupt({ kind: "timeout" }), timeoutMs);
    const outcome = await this.api.invoke(invocation);
    clearTimeout(timer);
    if (outcome.kind === "timeout") {
      // Stop the handler now (it may be spinning); its replacement starts later.
      this.move("timeout");
      await this.process!.kill();
    } else if (outcome.kind === "exit") {
      await this.process!.drained;
      if (outcome.how === "signal: SIGKILL" && (await this.oom.killedSinceLastLook())) {
        this.killedForMemory = true;
        return { kind: OUT_OF_MEMORY };
      }
    }
    return outcome;
  }

  /** The runtime waits for work with nothing running (the runtime API's onIdle): frozen soon, as Lambda does. */
  idle(): void {
    clearTimeout(this.freezeTimer);
    this.freezeTimer = setTimeout(() => {
      // Asked for work in its init (not ready yet), or broken meanwhile: nothing to freeze.
      if (this.current !== "ready") return;
      this.process!.freeze();
      this.move("freeze");
    }, FREEZE_AFTER_IDLE_MS);
  }

  /** Kills the runtime for good; a ready one runs the function's preStop hook first, within its time. */
  async stop(): Promise<void> {
    clearTimeout(this.freezeTimer);
    if (this.spec.preStop && (this.current === "ready" || this.current === "frozen")) {
      if (this.current === "frozen") {
        this.process!.thaw();
        this.move("thaw");
      }
      const outcome = await this.runHook({ kind: "pre-stop", handler: this.spec.preStop.handler }, this.spec.preStop.timeoutMs);
      if (outcome.kind !== "response") this.logger.warn({ outcome: describeHookFailure(outcome) }, "the preStop hook failed");
      await this.log.drain();
    }
    this.move("stop");
    await this.process?.kill();
  }

  /** The function's initializer, once the runtime asks for work: undefined when it succeeded (or there is none), else the error. */
  private async runInitializer(): Promise<Buffer | undefined> {
    const initializer = this.spec.initializer;
    if (!initializer) return undefined;
    const outcome = await this.runHook({ kind: "initialize", handler: initializer.handler }, initializer.timeoutMs);
    if (outcome.kind === "response") return undefined;
    const failure = outcome.kind === "timeout" ? `did not finish within ${initializer.timeoutMs / 1000} s` : describeHookFailure(outcome);
    return Buffer.from(errorBody(INITIALIZER_ERROR, `the initializer ${initializer.handler} ${failure}`));
  }

  /** Runs a hook as an invocation of its own; one that runs past `timeoutMs` is killed with its runtime. */
  private async runHook(hook: LifecycleHook, timeoutMs: number): Promise<RuntimeOutcome> {
    const timer = setTimeout(() => this.api.interrupt({ kind: "timeout" }), timeoutMs);
    const outcome = await this.api.invoke({ id: randomUUID(), payload: Buffer.alloc(0), deadlineMs: Date.now() + timeoutMs, retryCount: 0, hook });
    clearTimeout(timer);
    if (outcome.kind === "timeout") await this.process!.kill();
    return outcome;
  }

  private move(event: RuntimeEvent): void {
    this.current = nextState(this.current, event);
  }
}

function describeHookFailure(outcome: RuntimeOutcome): string {
  switch (outcome.kind) {
    case "error": {
      const errorType = parseObject(outcome.body)?.errorType;
      return `failed: ${typeof errorType === "string" ? `${errorType}: ` : ""}${errorMessageOf(outcome.body)}`;
    }
    case "exit":
      return `took its runtime down: ${outcome.how}`;
    case "timeout":
      return "timed out";
    default:
      return "answered more than the runtime API takes";
  }
}

/** An init error with the last lines the runtime wrote, as `logs`. */
function withLogs(error: Buffer, lines: string[]): Buffer {
  const parsed = parseObject(Buffer.from(functionErrorBody(error, "Runtime.InitError")));
  return Buffer.from(JSON.stringify({ ...parsed, logs: lines }));
}
