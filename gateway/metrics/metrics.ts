import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";
import type { ContainerState } from "../protocol/container-record.js";

export interface PoolSnapshot {
  function: string;
  queued: number;
  containers: Record<ContainerState, number>;
}

const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900];
const COLD_START_BUCKETS = [0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.75, 1, 2, 5, 10, 30];

/** The metrics of one Hearth process, in a registry of its own (tests run several in one process). */
export class Metrics {
  readonly registry = new Registry();

  private readonly invocationDuration = new Histogram({
    name: "hearth_invocation_duration_seconds",
    help: "Time from a sync request's arrival to its response, by function and HTTP status",
    labelNames: ["function", "status"],
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });

  private readonly coldStarts = new Counter({
    name: "hearth_cold_starts_total",
    help: "Containers started for a function because queued work had no idle container",
    labelNames: ["function"],
    registers: [this.registry],
  });

  private readonly coldStartDuration = new Histogram({
    name: "hearth_cold_start_duration_seconds",
    help: "Time from container create to the runtime asking for its first request",
    labelNames: ["function"],
    buckets: COLD_START_BUCKETS,
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: "hearth_" });
  }

  observeInvocation(fn: string, status: number, startedAtMs: number): void {
    this.invocationDuration.observe({ function: fn, status: String(status) }, (performance.now() - startedAtMs) / 1000);
  }

  observeColdStart(fn: string, seconds: number): void {
    this.coldStarts.inc({ function: fn });
    this.coldStartDuration.observe({ function: fn }, seconds);
  }

  /** Containers by state and queue depth, read from Redis at scrape time (they are cluster-wide). */
  observePools(snapshot: () => Promise<PoolSnapshot[]>): void {
    // One Redis read per scrape serves both gauges: the first collect reads, the second reuses it.
    let pending: Promise<PoolSnapshot[]> | undefined;
    const read = (): Promise<PoolSnapshot[]> => {
      pending ??= snapshot().finally(() => setImmediate(() => (pending = undefined)));
      return pending;
    };
    new Gauge({
      name: "hearth_containers",
      help: "Containers of a function by state, across all invokers",
      labelNames: ["function", "state"],
      registers: [this.registry],
      async collect() {
        this.reset();
        for (const pool of await read()) {
          for (const [state, count] of Object.entries(pool.containers)) this.set({ function: pool.function, state }, count);
        }
      },
    });
    new Gauge({
      name: "hearth_queue_depth",
      help: "Requests waiting in a function's queue",
      labelNames: ["function"],
      registers: [this.registry],
      async collect() {
        this.reset();
        for (const pool of await read()) this.set({ function: pool.function }, pool.queued);
      },
    });
  }
}
