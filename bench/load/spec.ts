// What the parent asks the load worker to do, and what it gets back.

export interface LoadSpec {
  url: string;
  method?: string;
  /** Sent with every request (JSON). */
  body?: string;
  /** Sent with every request, besides content-type and content-length (the API key). */
  headers?: Record<string, string>;
  /** Requests kept in flight at once (a closed loop: each lane sends its next request when the last is answered). */
  concurrency: number;
  /** Requests measured, after the warm-up ones. */
  count: number;
  /** Requests sent first and not measured (connections opened, code paths warm). */
  warmup?: number;
  /** No request starts after this much time (warm-up included): a run always ends. */
  maxDurationMs: number;
  /** A request unanswered for this long counts as failed. */
  timeoutMs?: number;
}

export interface LoadResult {
  /** Measured requests that got an answer (any status). */
  completed: number;
  /** Network errors and timeouts. */
  failed: number;
  statuses: Record<string, number>;
  /** First measured request sent to last measured answer. */
  durationMs: number;
  /** 2xx answers per second over durationMs. */
  ratePerSec: number;
  /** Latency of every answered measured request, ms, in the order they were sent. */
  latenciesMs: Float64Array;
  /** True when maxDurationMs ended the run before `count` requests. */
  timeCapped: boolean;
  /** The load worker's own CPU over the measured part: cores busy (1 = one full core) and per request. */
  clientCpu: { cores: number; usPerRequest: number };
}

export type WorkerMessage = { type: "result"; result: LoadResult } | { type: "error"; message: string };
