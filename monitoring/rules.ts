// Prometheus rules for Hearth: recording rules for the dashboards' heavy queries, and the alerts.
// Written to monitoring/prometheus/rules.yml by `npm run monitoring`; the monitoring test loads the
// same rules with lower thresholds, so that each alert can be seen to fire on a short workload.

/**
 * Series reported by every gateway that read them from Redis (queues, containers, async totals) are
 * cluster-wide: aggregate them across gateways with max(), not sum(). Series a process counts itself
 * (sync invocations, cold starts, containers of its invoker) add up with sum().
 */

export interface RecordingRule {
  record: string;
  expr: string;
}

export interface AlertRule {
  alert: string;
  expr: string;
  for: string;
  labels: { severity: "warning" | "critical" };
  annotations: { summary: string; runbook: string };
}

export interface AlertThresholds {
  /** Share of invocations (throttles aside) that fail, over 5 minutes. */
  errorRatio: number;
  /** Age of the oldest async invocation waiting for a container. */
  queueAgeSeconds: number;
  /** Cold starts per second of one function, over 5 minutes. */
  coldStartsPerSecond: number;
  /** How long a condition holds before it fires. */
  for: string;
}

export const PRODUCTION_THRESHOLDS: AlertThresholds = { errorRatio: 0.05, queueAgeSeconds: 300, coldStartsPerSecond: 0.5, for: "5m" };

/** Sync (counted by each gateway) and async (counted in Redis) invocations per second, one vocabulary of outcomes. */
export const INVOCATION_RATE = "hearth:invocations:rate1m";
export const EXECUTION_BUCKETS = "hearth:execution_duration_seconds_bucket:rate1m";
export const RESPONSE_BUCKETS = "hearth:invocation_duration_seconds_bucket:rate1m";
export const QUEUE_WAIT_BUCKETS = "hearth:queue_wait_seconds_bucket:rate1m";
export const COLD_START_BUCKETS = "hearth:cold_start_duration_seconds_bucket:rate5m";

export function recordingRules(): RecordingRule[] {
  return [
    {
      record: INVOCATION_RATE,
      expr: [
        `label_replace(sum by (function, outcome) (rate(hearth_invocations_total[1m])), "type", "sync", "", "")`,
        `or`,
        `label_replace(max by (function, outcome) (rate(hearth_async_invocations_total[1m])), "type", "async", "", "")`,
      ].join("\n"),
    },
    { record: EXECUTION_BUCKETS, expr: `sum by (function, start, le) (rate(hearth_execution_duration_seconds_bucket[1m]))` },
    { record: RESPONSE_BUCKETS, expr: `sum by (function, le) (rate(hearth_invocation_duration_seconds_bucket[1m]))` },
    { record: QUEUE_WAIT_BUCKETS, expr: `sum by (function, start, le) (rate(hearth_queue_wait_seconds_bucket[1m]))` },
    { record: COLD_START_BUCKETS, expr: `sum by (function, le) (rate(hearth_cold_start_duration_seconds_bucket[5m]))` },
  ];
}

export function alertRules(t: AlertThresholds): AlertRule[] {
  const alert = (name: string, expr: string, severity: "warning" | "critical", summary: string, runbook: string): AlertRule => ({
    alert: name,
    expr,
    for: t.for,
    labels: { severity },
    annotations: { summary, runbook },
  });
  return [
    alert(
      "HearthHighErrorRate",
      `sum by (function) (${INVOCATION_RATE}{outcome!~"success|throttled"}) / sum by (function) (${INVOCATION_RATE}{outcome!="throttled"}) > ${t.errorRatio}`,
      "warning",
      `More than ${t.errorRatio * 100}% of {{ $labels.function }}'s invocations fail`,
      "Open the function dashboard's 'Invocations by outcome': function_error and timeout are the function's (its logs, its timeout setting), out_of_memory its memory setting, platform_error Hearth's (invoker and container logs).",
    ),
    alert(
      "HearthAsyncQueueStale",
      `max by (function) (hearth_async_oldest_queued_age_seconds) > ${t.queueAgeSeconds}`,
      "warning",
      `An async invocation of {{ $labels.function }} has waited over ${t.queueAgeSeconds} s for a container`,
      "The function cannot get containers fast enough: check its maxContainers, the host caps (HearthHostAtCapacity) and whether its containers fail to start (platform_error, invoker logs).",
    ),
    alert(
      "HearthDeadLettersGrowing",
      `max by (function) (increase(hearth_async_dead_lettered_total[15m])) > 0`,
      "warning",
      `Async invocations of {{ $labels.function }} ran out of retries`,
      "List them with GET /system/functions/{function}/dead-letters, fix the cause (the last error is in each record), then re-drive them (POST …/dead-letters/redrive) or purge them.",
    ),
    alert(
      "HearthColdStartSurge",
      `sum by (function) (rate(hearth_cold_starts_total[5m])) > ${t.coldStartsPerSecond}`,
      "warning",
      `{{ $labels.function }} starts more than ${t.coldStartsPerSecond} containers per second`,
      "Containers churn: a keepAlive shorter than the gaps between requests, evictions at the host cap (hearth_invoker_evictions_total), or containers that crash (platform_error, out_of_memory). Raise keepAlive or the host caps.",
    ),
    alert(
      "HearthDown",
      `up{job=~".*hearth.*"} == 0`,
      "critical",
      "Prometheus cannot scrape Hearth at {{ $labels.instance }}",
      "The process is down or unreachable: check it (systemd, docker-compose ps, kubectl get pods) and its logs. An invoker-only process serves no /metrics: HearthInvokerLost covers those.",
    ),
    alert(
      "HearthInvokerLost",
      `max(hearth_invokers{state="lost"}) > 0`,
      "critical",
      "An invoker stopped beating without stopping",
      "Its host or process died: the invokers left release its containers (their callers got 502, async attempts are retried). Find the process (hearth_invokers, invoker logs) and restart it; the count clears an hour after.",
    ),
    alert(
      "HearthHostAtCapacity",
      `hearth_invoker_containers{kind="held"} >= ignoring(kind) hearth_invoker_containers{kind="limit"}` +
        `\nor hearth_invoker_memory_bytes{kind="held"} >= ignoring(kind) hearth_invoker_memory_bytes{kind="limit"}`,
      "warning",
      "Invoker {{ $labels.instance }} holds all the containers or memory its host may have",
      "New containers wait for room and idle ones of other functions are evicted: raise HEARTH_MAX_CONTAINERS / HEARTH_MAX_MEMORY_MB if the host has room, or add an invoker.",
    ),
  ];
}

export function rulesFile(t: AlertThresholds, evaluationInterval?: string): object {
  const interval = evaluationInterval ? { interval: evaluationInterval } : {};
  return {
    groups: [
      { name: "hearth-recording", ...interval, rules: recordingRules() },
      { name: "hearth-alerts", ...interval, rules: alertRules(t) },
    ],
  };
}
