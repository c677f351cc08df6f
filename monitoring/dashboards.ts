// Hearth's Grafana dashboards, built with Grafana's foundation SDK: an overview of every function,
// and one function's view (the `$function` variable). Written as provisioning JSON to
// monitoring/dashboards/ by `npm run monitoring`.

import * as common from "@grafana/grafana-foundation-sdk/common";
import { DashboardBuilder, DatasourceVariableBuilder, QueryVariableBuilder, RowBuilder, VariableRefresh, VariableSort, type Dashboard } from "@grafana/grafana-foundation-sdk/dashboard";
import { DataqueryBuilder } from "@grafana/grafana-foundation-sdk/prometheus";
import { PanelBuilder as TimeseriesBuilder } from "@grafana/grafana-foundation-sdk/timeseries";
import { COLD_START_BUCKETS, EXECUTION_BUCKETS, INVOCATION_RATE, QUEUE_WAIT_BUCKETS, RESPONSE_BUCKETS } from "./rules.js";

/** Every panel and query names the datasource through this variable: the dashboards work with whatever Prometheus datasource is provisioned. */
const DATASOURCE = { type: "prometheus", uid: "${datasource}" };

interface Query {
  expr: string;
  legend: string;
}

export interface PanelSpec {
  title: string;
  description: string;
  unit: string;
  queries: Query[];
}

const q = (expr: string, legend: string): Query => ({ expr, legend });

/** Mean time handlers ran for async attempts, by the labels given: run time over the attempts a container settled. */
function asyncMeanExecution(by: string, selector = ""): string {
  const ran = selector ? selector.replace("}", ',outcome=~"success|function_error|timeout|out_of_memory"}') : '{outcome=~"success|function_error|timeout|out_of_memory"}';
  return `max by (${by}) (rate(hearth_async_execution_seconds_total${selector}[5m])) / max by (${by}) (rate(hearth_async_invocations_total${ran}[5m]))`;
}

/** p50, p90 and p99 of a recorded bucket rate, by the labels given. */
function quantiles(buckets: string, by: string, selector = "", legend = `{{${by.split(", ").join("}} {{")}}}`): Query[] {
  return [0.5, 0.9, 0.99].map((quantile) => q(`histogram_quantile(${quantile}, sum by (${by}, le) (${buckets}${selector}))`, `p${quantile * 100} ${legend}`));
}

export function overviewPanels(): Array<{ row: string; panels: PanelSpec[] }> {
  return [
    {
      row: "Invocations",
      panels: [
        { title: "Invocations/s by function", description: "Sync and async, every outcome.", unit: "reqps", queries: [q(`sum by (function, type) (${INVOCATION_RATE})`, "{{function}} {{type}}")] },
        { title: "Errors/s by outcome", description: "Everything but success: function_error, timeout, throttled, out_of_memory, platform_error.", unit: "reqps", queries: [q(`sum by (outcome) (${INVOCATION_RATE}{outcome!="success"})`, "{{outcome}}")] },
        { title: "Execution time by function", description: "The handler's run in its container (sync): no queueing, no cold start.", unit: "s", queries: quantiles(EXECUTION_BUCKETS, "function") },
        { title: "Response time by function", description: "Sync: from the request's arrival to its answer.", unit: "s", queries: quantiles(RESPONSE_BUCKETS, "function") },
        { title: "Async execution time by function (mean)", description: "The handler's run in its container, async attempts, over 5 minutes.", unit: "s", queries: [q(asyncMeanExecution("function"), "{{function}}")] },
      ],
    },
    {
      row: "Containers",
      panels: [
        { title: "Cold starts/s by function", description: "Containers started because queued work found none idle.", unit: "ops", queries: [q(`sum by (function) (rate(hearth_cold_starts_total[1m]))`, "{{function}}")] },
        { title: "Cold start duration", description: "From container create to the runtime asking for its first request.", unit: "s", queries: quantiles(COLD_START_BUCKETS, "function") },
        { title: "Containers by state", description: "Across all invokers.", unit: "short", queries: [q(`sum by (state) (max by (function, state) (hearth_containers))`, "{{state}}")] },
        { title: "Host capacity", description: "Containers and memory each invoker holds, against its caps (HEARTH_MAX_CONTAINERS, HEARTH_MAX_MEMORY_MB).", unit: "short", queries: [q(`sum by (kind) (hearth_invoker_containers)`, "containers {{kind}}")] },
        { title: "Container CPU by function", description: "CPU cores the function's containers use (from their cgroups).", unit: "short", queries: [q(`sum by (function) (rate(hearth_container_cpu_seconds_total[1m]))`, "{{function}}")] },
        { title: "Container memory by function", description: "Memory the function's running containers use; /tmp is memory too.", unit: "bytes", queries: [q(`sum by (function) (hearth_container_memory_bytes)`, "{{function}}")] },
        { title: "Invokers", description: "alive: beating; lost: stopped beating without stopping (last hour).", unit: "short", queries: [q(`max by (state) (hearth_invokers)`, "{{state}}")] },
      ],
    },
    {
      row: "Code cache",
      panels: [
        {
          title: "Code cache hit ratio",
          description: "Container starts that found their package unpacked on their invoker's host, over those that found it or had to fetch and unpack it, over 5 minutes.",
          unit: "percentunit",
          queries: [q(`sum(rate(hearth_code_cache_lookups_total{result="hit"}[5m])) / sum(rate(hearth_code_cache_lookups_total{result=~"hit|miss"}[5m]))`, "hit ratio")],
        },
        {
          title: "Code cache lookups and evictions/s",
          description: "Lookups by result (not_found: redeployed or deleted meanwhile; error: the fetch or the package's checks failed), and packages evicted to keep within HEARTH_CODE_CACHE_MB. Evictions and misses high together: the cache is too small for the code its hosts run.",
          unit: "ops",
          queries: [q(`sum by (result) (rate(hearth_code_cache_lookups_total[5m]))`, "{{result}}"), q(`sum(rate(hearth_code_cache_evictions_total[5m]))`, "evictions")],
        },
        {
          title: "Code cache unpack time",
          description: "What a miss costs a cold start: the package's fetch from Redis, its checks and its unpacking.",
          unit: "s",
          queries: [0.5, 0.9, 0.99].map((quantile) => q(`histogram_quantile(${quantile}, sum by (le) (rate(hearth_code_cache_unpack_duration_seconds_bucket[5m])))`, `p${quantile * 100}`)),
        },
        {
          title: "Code cache disk use",
          description: "Unpacked code each invoker holds, against HEARTH_CODE_CACHE_MB: held passes the limit only while running containers mount more.",
          unit: "bytes",
          queries: [q(`hearth_code_cache_bytes`, "{{instance}} {{kind}}")],
        },
      ],
    },
    {
      row: "Queues and async",
      panels: [
        { title: "Queue depth by function", description: "Requests waiting for a container, sync and async.", unit: "short", queries: [q(`max by (function) (hearth_queue_depth)`, "{{function}}")] },
        { title: "Oldest async invocation waiting", description: "How long the oldest queued async invocation has waited for a container.", unit: "s", queries: [q(`max by (function) (hearth_async_oldest_queued_age_seconds)`, "{{function}}")] },
        { title: "Async retries/s", description: "Failed attempts scheduled for a retry.", unit: "ops", queries: [q(`max by (function) (rate(hearth_async_retries_total[1m]))`, "{{function}}")] },
        { title: "Dead letters", description: "Held now, and moved there in the last 5 minutes.", unit: "short", queries: [q(`max by (function) (hearth_async_dead_letters)`, "{{function}} held"), q(`max by (function) (increase(hearth_async_dead_lettered_total[5m]))`, "{{function}} new")] },
        { title: "Callback failures", description: "Callback deliveries with no 2xx answer in time, in the last 5 minutes.", unit: "short", queries: [q(`max by (function) (increase(hearth_async_callback_failures_total[5m]))`, "{{function}}")] },
        { title: "Out of memory", description: "Runtimes and containers killed for their memory limit, in the last 5 minutes.", unit: "short", queries: [q(`max by (function) (increase(hearth_out_of_memory_total[5m]))`, "{{function}}")] },
      ],
    },
  ];
}

export function functionPanels(): Array<{ row: string; panels: PanelSpec[] }> {
  const fn = `{function=~"$function"}`;
  return [
    {
      row: "Invocations",
      panels: [
        { title: "Invocations/s by outcome", description: "Sync and async.", unit: "reqps", queries: [q(`sum by (type, outcome) (${INVOCATION_RATE}${fn})`, "{{type}} {{outcome}}")] },
        { title: "Cold and warm sync invocations/s", description: "cold: the first request of a new container.", unit: "reqps", queries: [q(`sum by (start) (rate(hearth_execution_duration_seconds_count${fn}[1m]))`, "{{start}}")] },
        { title: "Execution time, cold and warm", description: "The handler's run in its container (sync).", unit: "s", queries: quantiles(EXECUTION_BUCKETS, "start", fn, "{{start}}") },
        { title: "Queue wait, cold and warm", description: "From queueing to a container starting the request: a cold start is in here.", unit: "s", queries: quantiles(QUEUE_WAIT_BUCKETS, "start", fn, "{{start}}") },
        { title: "Response time", description: "Sync: from the request's arrival to its answer.", unit: "s", queries: quantiles(RESPONSE_BUCKETS, "function", fn, "") },
        { title: "Async execution time (mean)", description: "The handler's run in its container, async attempts, over 5 minutes.", unit: "s", queries: [q(asyncMeanExecution("function", fn), "mean")] },
      ],
    },
    {
      row: "Containers",
      panels: [
        { title: "Containers by state", description: "Across all invokers.", unit: "short", queries: [q(`max by (state) (hearth_containers${fn})`, "{{state}}")] },
        { title: "Cold starts", description: "Per second, and their duration.", unit: "s", queries: [q(`sum(rate(hearth_cold_starts_total${fn}[1m]))`, "cold starts/s"), ...quantiles(COLD_START_BUCKETS, "function", fn, "duration")] },
        { title: "CPU", description: "CPU cores the function's containers use.", unit: "short", queries: [q(`sum(rate(hearth_container_cpu_seconds_total${fn}[1m]))`, "cores")] },
        { title: "Memory", description: "Memory the function's running containers use.", unit: "bytes", queries: [q(`sum(hearth_container_memory_bytes${fn})`, "used")] },
        { title: "Out of memory", description: "Kills for the memory limit, in the last 5 minutes.", unit: "short", queries: [q(`max(increase(hearth_out_of_memory_total${fn}[5m]))`, "killed")] },
      ],
    },
    {
      row: "Queues and async",
      panels: [
        { title: "Queue", description: "All waiting requests, and async ones by state (queued for a container, retrying: in backoff).", unit: "short", queries: [q(`max(hearth_queue_depth${fn})`, "all"), q(`max by (state) (hearth_async_queue_depth${fn})`, "async {{state}}")] },
        { title: "Oldest async invocation waiting", description: "", unit: "s", queries: [q(`max(hearth_async_oldest_queued_age_seconds${fn})`, "age")] },
        { title: "Async retries and dead letters", description: "Retries/s, dead letters held.", unit: "short", queries: [q(`max(rate(hearth_async_retries_total${fn}[1m]))`, "retries/s"), q(`max(hearth_async_dead_letters${fn})`, "dead letters")] },
        { title: "Callback failures", description: "In the last 5 minutes.", unit: "short", queries: [q(`max(increase(hearth_async_callback_failures_total${fn}[5m]))`, "failed")] },
      ],
    },
  ];
}

function build(uid: string, title: string, rows: Array<{ row: string; panels: PanelSpec[] }>, withFunction: boolean): Dashboard {
  const dashboard = new DashboardBuilder(title)
    .uid(uid)
    .tags(["hearth"])
    .refresh("30s")
    .time({ from: "now-1h", to: "now" })
    .withVariable(new DatasourceVariableBuilder("datasource").label("Prometheus").type("prometheus"));
  if (withFunction) {
    dashboard.withVariable(
      new QueryVariableBuilder("function")
        .label("Function")
        .datasource(DATASOURCE)
        .query("label_values(hearth_queue_depth, function)")
        .refresh(VariableRefresh.OnTimeRangeChanged)
        .sort(VariableSort.AlphabeticalAsc),
    );
  }
  for (const { row, panels } of rows) {
    dashboard.withRow(new RowBuilder(row));
    for (const spec of panels) dashboard.withPanel(panel(spec));
  }
  return dashboard.build();
}

function panel(spec: PanelSpec): TimeseriesBuilder {
  const builder = new TimeseriesBuilder()
    .title(spec.title)
    .description(spec.description)
    .datasource(DATASOURCE)
    .unit(spec.unit)
    .height(8)
    .span(8)
    .legend(new common.VizLegendOptionsBuilder().showLegend(true).displayMode(common.LegendDisplayMode.List).placement(common.LegendPlacement.Bottom));
  spec.queries.forEach((query, index) => {
    builder.withTarget(new DataqueryBuilder().datasource(DATASOURCE).expr(query.expr).legendFormat(query.legend).refId(String.fromCharCode(65 + index)));
  });
  return builder;
}

export function overviewDashboard(): Dashboard {
  return build("hearth-overview", "Hearth overview", overviewPanels(), false);
}

export function functionDashboard(): Dashboard {
  return build("hearth-function", "Hearth function", functionPanels(), true);
}
