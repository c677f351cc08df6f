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

  constructor(
    private readonly redis: Redis,
    private readonly keys: FunctionKeys,
    private readonly limits: LogLimits,
    private readonly onError: (error: unknown) => void,
  ) {}

  /** A line of the runtime's output. */
  readonly write = (stream: "stdout" | "stderr", message: string): void => {
    this.phaseLines += 1;
    if (this.phaseLines > this.limits.maxLinesPerInvocation) {
      if (this.phaseLines === this.limits.maxLinesPerInvocation + 1) {
        this.platform(`Hearth: output cut here: more than ${this.limits.maxLinesPerInvocation} lines; the rest of it is not kept`);
      }
      return;
    }
    this.initTail?.push(message);
    if (this.initTail && this.initTail.length > INIT_TAIL_LINES) this.initTail.shift();
    this.add(stream, message);
  };

  /** A line of Hearth's own, of the current invocation. */
  platform(message: string): void {
    this.add("platform", message);
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
    await this.queue(this.redis.pipeline()).exec();
  }

  private add(stream: LogStream, message: string): void {
    this.pending.push(lineFields(Date.now(), this.invocation, stream, message));
    // During an invocation its finish writes the lines; a long one's show up on the way too.
    this.flushTimer ??= setTimeout(() => {
      this.flushTimer = undefined;
      this.flush().catch(this.onError);
    }, FLUSH_DELAY_MS);
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
