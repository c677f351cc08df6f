// What the adapter keeps of its runtime's output: every line with the invocation it belongs to, and
// Lambda's START, END and REPORT lines, buffered and written to the function's log stream in Redis
// together with an invocation's outcome (no round trip of their own on the warm path), or a moment
// later when the runtime writes between those writes. Each phase (an init, an invocation, the time
// between two) keeps at most maxLinesPerInvocation of the runtime's lines; a marker says where it was cut.

import { readFileSync } from "node:fs";
import type { ChainableCommander, Redis } from "ioredis";
import { historyStatus, lineFields, type HistoryEntry, type LogLimits, type LogStream } from "../protocol/logs.js";
import type { FunctionKeys } from "../protocol/keys.js";

/** Lines written outside an invocation's finish go out this long after the first of them. */
const FLUSH_DELAY_MS = 500;
/** Turns of the event loop an invocation's output is waited for after its answer, at most. */
const DRAIN_TURNS = 50;
/** Lambda's log line forms, "<time>\t<request id>\t…" (Node) and "[LEVEL]\t<time>\t<request id>\t…" (Python). */
const REQUEST_ID_FIELD = /^(?:[^\t]{1,40}\t){1,2}([a-z0-9-]{1,63}\.[0-9a-f-]{36})\t/;
/** The last lines of an init kept to explain an init error. */
const INIT_TAIL_LINES = 20;
/** The container's peak memory: cgroup v2, then v1. */
const PEAK_MEMORY_FILES = ["/sys/fs/cgroup/memory.peak", "/sys/fs/cgroup/memory/memory.max_usage_in_bytes"];
const MiB = 1024 * 1024;

export interface InvocationReport {
  id: string;
  async: boolean;
  statusCode: number;
  startedAt: number;
  finishedAt: number;
  durationMs: number;
  memoryMb: number;
  /** Set on the container's first invocation: how long its runtime took to start. */
  initDurationMs?: number;
}

export class FunctionLog {
  private pending: string[][] = [];
  private history: string[] = [];
  private invocation: string | null = null;
  private phaseLines = 0;
  private initTail: string[] | undefined;
  private flushTimer?: NodeJS.Timeout;
  private readonly peakMemoryFile = PEAK_MEMORY_FILES.find((file) => readable(file));
  /** Lines the runtime wrote so far, kept or not: whether more came during a turn of the event loop. */
  private received = 0;

  constructor(
    private readonly redis: Redis,
    private readonly fn: string,
    private readonly keys: FunctionKeys,
    private readonly limits: LogLimits,
    private readonly onError: (error: unknown) => void,
  ) {}

  /** A line of the runtime's output. */
  readonly write = (stream: "stdout" | "stderr", message: string): void => {
    this.received += 1;
    this.phaseLines += 1;
    if (this.phaseLines > this.limits.maxLinesPerInvocation) {
      if (this.phaseLines === this.limits.maxLinesPerInvocation + 1) {
        this.platform(`Hearth: output cut here: more than ${this.limits.maxLinesPerInvocation} lines; the rest of it is not kept`);
      }
      return;
    }
    this.initTail?.push(message);
    if (this.initTail && this.initTail.length > INIT_TAIL_LINES) this.initTail.shift();
    this.add(stream, message, this.invocationNamedIn(message) ?? this.invocation);
  };

  /**
   * Waits while the runtime's output is still being read (what it wrote before it answered may be
   * read after the answer): turns of the event loop until one brings no line, at most DRAIN_TURNS.
   */
  async drain(): Promise<void> {
    for (let turn = 0; turn < DRAIN_TURNS; turn += 1) {
      const before = this.received;
      await new Promise(setImmediate);
      if (this.received === before) return;
    }
  }

  /** A line of Hearth's own, of the current invocation. */
  platform(message: string): void {
    this.add("platform", message, this.invocation);
  }

  /** A runtime is starting: its lines belong to no invocation, and the last of them are kept until endInit. */
  beginInit(): void {
    this.nextPhase(null);
    this.initTail = [];
  }

  /** The init is over; returns its last lines. */
  endInit(): string[] {
    const tail = this.initTail ?? [];
    this.initTail = undefined;
    return tail;
  }

  start(id: string, version: number): void {
    this.nextPhase(id);
    this.platform(`START RequestId: ${id} Version: ${version}`);
  }

  /** END and REPORT of the current invocation, and its history entry; they go out with the next write. */
  end(report: InvocationReport): void {
    const { id } = report;
    const maxUsed = this.peakMemoryMb();
    const init = report.initDurationMs === undefined ? "" : `\tInit Duration: ${report.initDurationMs.toFixed(2)} ms`;
    this.platform(`END RequestId: ${id}`);
    this.platform(
      `REPORT RequestId: ${id}\tDuration: ${report.durationMs.toFixed(2)} ms\tBilled Duration: ${Math.max(1, Math.ceil(report.durationMs))} ms\tMemory Size: ${report.memoryMb} MB\tMax Memory Used: ${maxUsed} MB${init}`,
    );
    const entry: HistoryEntry = {
      id,
      type: report.async ? "async" : "sync",
      status: historyStatus(report.statusCode),
      statusCode: report.statusCode,
      startedAt: new Date(report.startedAt).toISOString(),
      finishedAt: new Date(report.finishedAt).toISOString(),
      durationMs: Math.round(report.durationMs * 100) / 100,
      cold: report.initDurationMs !== undefined,
    };
    this.history.push(JSON.stringify(entry));
    this.nextPhase(null);
  }

  /** Adds the pending lines and history entries to `pipeline` (bounded by count, then by age). */
  queue(pipeline: ChainableCommander): ChainableCommander {
    clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    const { keys, limits } = this;
    for (const fields of this.pending) pipeline.xadd(keys.logs, "MAXLEN", limits.maxLines, "*", ...fields);
    if (this.pending.length > 0) pipeline.xtrim(keys.logs, "MINID", "~", Date.now() - limits.retentionMs);
    if (this.history.length > 0) pipeline.lpush(keys.history, ...this.history).ltrim(keys.history, 0, limits.historySize - 1);
    this.pending = [];
    this.history = [];
    return pipeline;
  }

  /** Writes what is pending now. */
  async flush(): Promise<void> {
    if (this.pending.length === 0 && this.history.length === 0) return;
    const failed = (await this.queue(this.redis.pipeline()).exec())?.find(([error]) => error);
    if (failed) throw failed[0];
  }

  private add(stream: LogStream, message: string, invocation: string | null): void {
    this.pending.push(lineFields(Date.now(), invocation, stream, message));
    // During an invocation its finish writes the lines; a long one's show up on the way too.
    this.flushTimer ??= setTimeout(() => {
      this.flushTimer = undefined;
      this.flush().catch(this.onError);
    }, FLUSH_DELAY_MS);
  }

  /** A line that names its request (written late: after its answer, by a timer the handler left) is that request's. */
  private invocationNamedIn(message: string): string | undefined {
    const id = REQUEST_ID_FIELD.exec(message)?.[1];
    return id?.startsWith(`${this.fn}.`) ? id : undefined;
  }

  private nextPhase(invocation: string | null): void {
    this.invocation = invocation;
    this.phaseLines = 0;
  }

  private peakMemoryMb(): number {
    if (!this.peakMemoryFile) return 0;
    try {
      return Math.ceil(Number(readFileSync(this.peakMemoryFile, "utf8")) / MiB);
    } catch {
      return 0;
    }
  }
}

function readable(file: string): boolean {
  try {
    readFileSync(file);
    return true;
  } catch {
    return false;
  }
}
