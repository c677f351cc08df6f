import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry, type LabelValues } from "prom-client";
import type { PoolStatus } from "../functions/registry.js";
import { LOOKUP_RESULTS, type CodeCacheUsage, type LookupResult } from "../invoker/code-cache.js";
import type { FunctionUsage } from "../invoker/container-usage.js";
import type { HostCapacity } from "../invoker/host-capacity.js";
import { INVOCATION_OUTCOMES, type InvocationOutcome } from "../protocol/outcome.js";

export interface PoolSnapshot extends PoolStatus {
  function: string;
}

const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900];
/**
 * prom-client's default gauges that end in `_total`, which `promtool check metrics` refuses for a
 * gauge: the same counts are in `nodejs_active_handles` etc. by type (sum them).
 */
const GAUGES_NAMED_LIKE_COUNTERS = ["nodejs_active_handles_total", "nodejs_active_requests_total", "nodejs_active_resources_total"];

/** What the container measured of a sync request it ran. */
export interface Execution {
  /** From the gateway queueing it to a container starting it: queueing, and the cold start if there was one. */
  queuedSeconds: number;
  /** The handler's run, in the container. */
  runSeconds: number;
  /** The first request of a container that was started for the queued work. */
  cold: boolean;
}

const COLD_START_BUCKETS = [0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.75, 1, 2, 5, 10, 30];

/**
 * Fetch, checks and unpacking of one code package: about 60 ms for a tiny one (most of it the
 * inspection's worker thread), 0.3 s for 10 MiB, 0.55 s for 20 MiB; a 50 MB one on a slow disk, seconds.
 */
const CODE_CACHE_UNPACK_BUCKETS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/** What the invoker's code cache tells its metrics as it works (its size is read at scrape time). */
export interface CodeCacheRecorder {
  countLookup(result: LookupResult): void;
  observeUnpack(seconds: number): void;
  countEviction(): void;
}

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

  /** The pools' read of observePools, shared by every collect of one scrape. */
  private readPools?: () => Promise<PoolSnapshot[]>;

  private readonly invocations: Counter = new Counter({
    name: "hearth_invocations_total",
    help: "Sync invocations this gateway answered, by function and outcome (success, function_error, timeout, throttled, out_of_memory, platform_error)",
    labelNames: ["function", "outcome"],
    registers: [this.registry],
    collect: () => this.zeroForExistingFunctions(this.invocations, INVOCATION_OUTCOMES.map((outcome) => ({ outcome }))),
  });

  private readonly executionDuration = new Histogram({
    name: "hearth_execution_duration_seconds",
    help: "Time a sync request's handler ran in its container (no queueing, no cold start), by function and start=cold|warm",
    labelNames: ["function", "start"],
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });

  private readonly queueWait = new Histogram({
    name: "hearth_queue_wait_seconds",
    help: "Time a sync request waited from its queueing to a container starting it (a cold start included), by function and start=cold|warm",
    labelNames: ["function", "start"],
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });

  private readonly coldStarts: Counter = new Counter({
    name: "hearth_cold_starts_total",
    help: "Containers started for a function because queued work had no idle container",
    labelNames: ["function"],
    registers: [this.registry],
    collect: () => this.zeroForExistingFunctions(this.coldStarts, [{}]),
  });

  private readonly coldStartDuration = new Histogram({
    name: "hearth_cold_start_duration_seconds",
    help: "Time from container create to the runtime asking for its first request",
    labelNames: ["function"],
    buckets: COLD_START_BUCKETS,
    registers: [this.registry],
  });

  private readonly evictions = new Counter({
    name: "hearth_invoker_evictions_total",
    help: "Idle containers this invoker retired to make room on its host for another function's work",
    registers: [this.registry],
  });

  constructor() {
    // Unprefixed: the standard Node.js dashboards query process_* and nodejs_* by these names.
    collectDefaultMetrics({ register: this.registry });
    for (const name of GAUGES_NAMED_LIKE_COUNTERS) this.registry.removeSingleMetric(name);
  }

  /** A 404 (no such function) is not recorded: series by function are for functions that exist. */
  observeInvocation(fn: string, status: number, outcome: InvocationOutcome, startedAtMs: number, execution?: Execution): void {
    if (status === 404) return;
    this.invocationDuration.observe({ function: fn, status: String(status) }, (performance.now() - startedAtMs) / 1000);
    this.invocations.inc({ function: fn, outcome });
    if (!execution) return;
    const labels = { function: fn, start: execution.cold ? "cold" : "warm" };
    this.executionDuration.observe(labels, execution.runSeconds);
    this.queueWait.observe(labels, execution.queuedSeconds);
  }

  /**
   * A counter's series start at 0 for every existing function: one that appeared at its first count
   * would show no increase for it in rate() and increase(), and alerts on them would miss it.
   */
  private async zeroForExistingFunctions(counter: Counter, labelSets: Array<Record<string, string>>): Promise<void> {
    if (!this.readPools) return;
    for (const pool of await this.readPools()) for (const labels of labelSets) counter.inc({ function: pool.function, ...labels }, 0);
  }

  countEviction(): void {
    this.evictions.inc();
  }

  /** What this invoker holds of its host (HEARTH_MAX_CONTAINERS, HEARTH_MAX_MEMORY_MB), read at scrape time. */
  observeHost(capacity: HostCapacity): void {
    const registers = [this.registry];
    new Gauge({
      name: "hearth_invoker_containers",
      help: "Containers this invoker has started and not yet seen exit (held=now, limit=HEARTH_MAX_CONTAINERS)",
      labelNames: ["kind"],
      registers,
      collect(this: Gauge) {
        this.set({ kind: "held" }, capacity.containers);
        this.set({ kind: "limit" }, capacity.limits.maxContainers);
      },
    });
    new Gauge({
      name: "hearth_invoker_memory_bytes",
      help: "Memory limits of the containers this invoker holds, added up (held=now, limit=HEARTH_MAX_MEMORY_MB)",
      labelNames: ["kind"],
      registers,
      collect(this: Gauge) {
        this.set({ kind: "held" }, capacity.memoryMb * 1024 * 1024);
        this.set({ kind: "limit" }, capacity.limits.maxMemoryMb * 1024 * 1024);
      },
    });
  }

  /**
   * This invoker's code cache (invoker/code-cache.ts), without a function label: an entry is a
   * package, which functions of the same code share.
   */
  observeCodeCache(read: () => CodeCacheUsage): CodeCacheRecorder {
    const registers = [this.registry];
    const lookups = new Counter({
      name: "hearth_code_cache_lookups_total",
      help: "Container starts that asked this invoker's code cache for their package, by result: hit (unpacked on this host already, or being unpacked for another container), miss (fetched and unpacked), not_found (no package: redeployed or deleted meanwhile), error (the fetch or the package's checks failed)",
      labelNames: ["result"],
      registers,
    });
    // Every result from 0, so that a first one shows in rate() and increase().
    for (const result of LOOKUP_RESULTS) lookups.inc({ result }, 0);
    const unpackDuration = new Histogram({
      name: "hearth_code_cache_unpack_duration_seconds",
      help: "Time a code cache miss took: the package's fetch from Redis, its SHA-256 and inspection, and its unpacking onto the host's disk",
      buckets: CODE_CACHE_UNPACK_BUCKETS,
      registers,
    });
    const evictions = new Counter({
      name: "hearth_code_cache_evictions_total",
      help: "Packages this invoker's code cache removed, least recently used first, to keep within HEARTH_CODE_CACHE_MB",
      registers,
    });
    new Gauge({
      name: "hearth_code_cache_bytes",
      help: "Unpacked code this invoker's code cache holds on its host's disk (held=now, limit=HEARTH_CODE_CACHE_MB; held passes limit only while running containers mount more)",
      labelNames: ["kind"],
      registers,
      collect(this: Gauge) {
        const usage = read();
        this.set({ kind: "held" }, usage.bytes);
        this.set({ kind: "limit" }, usage.maxBytes);
      },
    });
    new Gauge({
      name: "hearth_code_cache_entries",
      help: "Packages unpacked in this invoker's code cache",
      registers,
      collect(this: Gauge) {
        this.set(read().entries);
      },
    });
    return {
      countLookup: (result) => lookups.inc({ result }),
      observeUnpack: (seconds) => unpackDuration.observe(seconds),
      countEviction: () => evictions.inc(),
    };
  }

  /** CPU and memory of this invoker's containers by function, read at scrape time. */
  observeContainerUsage(read: () => Promise<FunctionUsage[]>): void {
    const registers = [this.registry];
    new Counter({
      name: "hearth_container_cpu_seconds_total",
      help: "CPU time the function's containers on this invoker's host used (from their cgroups, read at scrape time)",
      labelNames: ["function"],
      registers,
      async collect(this: Counter) {
        const usage = await read();
        this.reset();
        for (const { function: fn, cpuSeconds } of usage) this.inc({ function: fn }, cpuSeconds);
      },
    });
    new Gauge({
      name: "hearth_container_memory_bytes",
      help: "Memory the function's running containers on this invoker's host use (cgroup usage less inactive file cache; /tmp is memory)",
      labelNames: ["function"],
      registers,
      async collect(this: Gauge) {
        const usage = await read();
        this.reset();
        for (const { function: fn, memoryBytes } of usage) this.set({ function: fn }, memoryBytes);
      },
    });
  }

  /** Invokers by their heartbeats in Redis, read at scrape time: alive, or lost (stopped beating without stopping). */
  observeInvokers(read: () => Promise<{ alive: number; lost: number }>): void {
    new Gauge({
      name: "hearth_invokers",
      help: "Invokers sharing this Redis, by state: alive (beating), lost (stopped beating without a clean stop, in the last hour)",
      labelNames: ["state"],
      registers: [this.registry],
      async collect(this: Gauge) {
        const { alive, lost } = await read();
        this.set({ state: "alive" }, alive);
        this.set({ state: "lost" }, lost);
      },
    });
  }

  observeColdStart(fn: string, seconds: number): void {
    this.coldStarts.inc({ function: fn });
    this.coldStartDuration.observe({ function: fn }, seconds);
  }

  /** Drops every series of a deleted function, whatever its other labels. */
  async forgetFunction(fn: string): Promise<void> {
    const byFunction: Array<Histogram<string> | Counter<string>> = [this.invocationDuration, this.invocations, this.executionDuration, this.queueWait, this.coldStarts, this.coldStartDuration];
    for (const metric of byFunction) {
      const labelSets = new Map<string, LabelValues<string>>();
      for (const { labels } of (await metric.get()).values) {
        if (labels.function !== fn) continue;
        const { le: _bucket, ...series } = labels;
        labelSets.set(JSON.stringify(series), series);
      }
      for (const labels of labelSets.values()) metric.remove(labels);
    }
  }

  /**
   * Containers, queues and async invocations by function, read from Redis at scrape time: containers
   * and invokers change them too, so no one process could count them.
   */
  observePools(snapshot: () => Promise<PoolSnapshot[]>): void {
    // One Redis read per scrape serves every metric below: the first collect reads, the others reuse it.
    let pending: Promise<PoolSnapshot[]> | undefined;
    const read = (): Promise<PoolSnapshot[]> => {
      pending ??= snapshot().finally(() => setImmediate(() => (pending = undefined)));
      return pending;
    };
    this.readPools = read;
    // Reset only once the read is in, with no await before the values are set: two scrapes at once
    // then cannot add a counter's value twice.
    const fromPools = <T extends Gauge | Counter>(record: (metric: T, pool: PoolSnapshot) => void) =>
      async function collect(this: T): Promise<void> {
        const pools = await read();
        this.reset();
        for (const pool of pools) record(this, pool);
      };
    const registers = [this.registry];
    new Gauge({
      name: "hearth_containers",
      help: "Containers of a function by state, across all invokers",
      labelNames: ["function", "state"],
      registers,
      collect: fromPools<Gauge>((gauge, pool) => {
        for (const [state, count] of Object.entries(pool.containers)) gauge.set({ function: pool.function, state }, count);
      }),
    });
    new Gauge({
      name: "hearth_queue_depth",
      help: "Requests waiting in a function's queue, sync and async",
      labelNames: ["function"],
      registers,
      collect: fromPools<Gauge>((gauge, pool) => gauge.set({ function: pool.function }, pool.queued)),
    });
    new Gauge({
      name: "hearth_async_queue_depth",
      help: "Async invocations of a function waiting: state=queued in its queue for a container, state=retrying for their retry's backoff to end",
      labelNames: ["function", "state"],
      registers,
      collect: fromPools<Gauge>((gauge, pool) => {
        gauge.set({ function: pool.function, state: "queued" }, pool.async.queued);
        gauge.set({ function: pool.function, state: "retrying" }, pool.async.retrying);
      }),
    });
    new Gauge({
      name: "hearth_async_oldest_queued_age_seconds",
      help: "How long the oldest async invocation waiting in a function's queue has waited there (0 when none waits)",
      labelNames: ["function"],
      registers,
      collect: fromPools<Gauge>((gauge, pool) => gauge.set({ function: pool.function }, pool.async.oldestQueuedAgeSeconds)),
    });
    new Gauge({
      name: "hearth_async_dead_letters",
      help: "Async invocations held in a function's dead-letter queue (out of retries, not yet re-driven or purged)",
      labelNames: ["function"],
      registers,
      collect: fromPools<Gauge>((gauge, pool) => gauge.set({ function: pool.function }, pool.async.deadLetters)),
    });
    // Totals kept in Redis, growing only: counters (so that rate() and increase() apply), set to
    // Redis's value at each scrape. Cluster-wide: every gateway reports the same value, so aggregate
    // across gateways with max(), not sum().
    const totals: Array<[name: string, help: string, value: (pool: PoolSnapshot) => number]> = [
      ["hearth_async_retries_total", "Failed async invocation attempts that were scheduled for a retry, across the cluster", (pool) => pool.async.retries],
      ["hearth_async_dead_lettered_total", "Async invocations moved to the dead-letter queue after their last attempt failed, across the cluster", (pool) => pool.async.deadLettered],
      ["hearth_out_of_memory_total", "Runtimes and containers of a function the kernel killed for its memory limit (answered Runtime.OutOfMemory), across the cluster", (pool) => pool.outOfMemory],
      ["hearth_async_execution_seconds_total", "Time handlers ran for async attempts (no queueing, no cold start), added up, across the cluster: divide by attempts for the mean", (pool) => pool.async.executionSeconds],
      ["hearth_async_callback_failures_total", "Callback deliveries that failed (no 2xx answer in time), retried ones included, across the cluster", (pool) => pool.async.callbackFailures],
    ];
    new Counter({
      name: "hearth_async_invocations_total",
      help: "Async invocation attempts by function and outcome (throttled: refused at accept, 429), across the cluster",
      labelNames: ["function", "outcome"],
      registers,
      collect: fromPools<Counter>((counter, pool) => {
        for (const outcome of INVOCATION_OUTCOMES) counter.inc({ function: pool.function, outcome }, pool.async.outcomes[outcome]);
      }),
    });
    for (const [name, help, value] of totals) {
      new Counter({
        name,
        help,
        labelNames: ["function"],
        registers,
        collect: fromPools<Counter>((counter, pool) => counter.inc({ function: pool.function }, value(pool))),
      });
    }
  }
}

