// The run as one table (Markdown, so that it reads in a terminal and pastes into BENCHMARKS.md).

import type { BenchResult, LoadRow } from "../results.js";

type Row = [section: string, item: string, n: string, p50: string, p90: string, p99: string, rate: string, notes: string];

const HEADER: Row = ["Section", "Case", "n", "p50 ms", "p90 ms", "p99 ms", "rate /s", "notes"];

const ms = (value: number | undefined, digits = 2): string => (value === undefined || !Number.isFinite(value) ? "–" : value.toFixed(digits));
const int = (value: number | undefined): string => (value === undefined || !Number.isFinite(value) ? "–" : Math.round(value).toLocaleString("en-US"));
const signed = (value: number, digits = 2): string => `${value >= 0 ? "+" : ""}${value.toFixed(digits)}`;

function cpuNote(row: LoadRow, hearth: boolean): string {
  const cpu = row.cpu;
  const client = `client ${row.clientCpu.cores.toFixed(2)} cores`;
  if (!cpu) return client;
  const parts = hearth
    ? `CPU/req µs: gateway ${cpu.gatewayUs.toFixed(0)}, redis ${cpu.redisUs.toFixed(0)}, containers ${cpu.containersUs.toFixed(0)}, client ${row.clientCpu.usPerRequest.toFixed(0)}`
    : `CPU/req µs: server ${cpu.directUs.toFixed(0)}, client ${row.clientCpu.usPerRequest.toFixed(0)}`;
  const cores = `; cores busy: these ${cpu.coresBusy.toFixed(2)}, others ${cpu.othersCores.toFixed(2)}`;
  return `${parts}; ${client}${cores}${row.failed ? `; ${row.failed} failed` : ""}${nonOk(row)}`;
}

function nonOk(row: LoadRow): string {
  const bad = Object.entries(row.statuses).filter(([status]) => Number(status) < 200 || Number(status) >= 300);
  return bad.length ? `; statuses ${bad.map(([s, c]) => `${s}×${c}`).join(" ")}` : "";
}

function loadCells(row: LoadRow): [string, string, string, string, string] {
  return [int(row.requests), ms(row.latencyMs.p50), ms(row.latencyMs.p90), ms(row.latencyMs.p99), int(row.ratePerSec)];
}

export function renderTable(result: BenchResult): string {
  const rows: Row[] = [];
  for (const level of result.warm?.levels ?? []) {
    const section = `1 warm c=${level.concurrency}`;
    rows.push([section, "direct express", ...loadCells(level.direct), cpuNote(level.direct, false)]);
    rows.push([section, `Hearth, ${level.containers} warm container${level.containers > 1 ? "s" : ""}`, ...loadCells(level.hearth), cpuNote(level.hearth, true)]);
    const peer = result.bullmq?.runs.find((run) => run.concurrency === level.concurrency);
    if (peer) rows.push([section, "BullMQ peer (job → Node worker process → result)", ...loadCells(peer), cpuNote(peer, false) + (peer.failed ? `; ${peer.failed} failed` : "") + (peer.timeCapped ? "; time cap reached" : "")]);
    const o = level.overhead;
    rows.push([section, "overhead (diff, ratio)", "", `${signed(o.p50.diffMs)} (${o.p50.ratio.toFixed(1)}×)`, `${signed(o.p90.diffMs)} (${o.p90.ratio.toFixed(1)}×)`, `${signed(o.p99.diffMs)} (${o.p99.ratio.toFixed(1)}×)`, "", ""]);
  }
  for (const run of result.throughput?.runs ?? []) {
    const item = run.target === "hearth" ? `Hearth, ${run.containers} warm container${run.containers > 1 ? "s" : ""}, ${run.concurrency} in flight` : `direct express, ${run.concurrency} in flight`;
    rows.push(["2 throughput", item, ...loadCells(run), cpuNote(run, run.target === "hearth") + (run.timeCapped ? "; time cap reached" : "")]);
  }
  if (result.cold) {
    const cold = result.cold;
    rows.push(["3 cold start", "request → result", int(cold.samples), ms(cold.totalMs.p50, 0), ms(cold.totalMs.p90, 0), ms(cold.totalMs.p99, 0), "", "no warm container; phases below add up to it"]);
    for (const [phase, summary] of Object.entries(cold.phasesMs)) {
      rows.push(["3 cold start", `· ${phase}`, "", ms(summary.p50, 1), ms(summary.p90, 1), ms(summary.p99, 1), "", cold.phaseNotes[phase] ?? ""]);
    }
    const { floor, big } = cold;
    const mib = (big.packageBytes / 1024 / 1024).toFixed(1);
    rows.push(["3 cold start", "floor: bare container", int(floor.samples), ms(floor.totalMs.p50, 0), ms(floor.totalMs.p90, 0), ms(floor.totalMs.p99, 0), "", `docker run --rm --entrypoint true <image> through the Engine API (create, start, wait, remove; remove p50 ${ms(floor.removeMs.p50, 0)} ms)`]);
    rows.push(["3 cold start", `${mib} MiB package, first on this host`, "1", ms(big.first.totalMs, 0), "", "", "", `the invoker fetches, checks and unpacks it into its code cache (create phase ${ms(big.first.phasesMs.create, 0)} ms)`]);
    rows.push(["3 cold start", `${mib} MiB package, cached`, int(big.samples), ms(big.totalMs.p50, 0), ms(big.totalMs.p90, 0), ms(big.totalMs.p99, 0), "", `mounted from the code cache (create phase p50 ${ms(big.phasesMs.create?.p50, 1)} ms)`]);
    const ratio = (value: number): string => `${value.toFixed(2)}×`;
    rows.push(["3 cold start", "ratio cached big / tiny", "", ratio(cold.bigOverTiny.p50), "", ratio(cold.bigOverTiny.p99), "", "target ≤ 1.1×"]);
    rows.push(["3 cold start", "ratio tiny / floor", "", ratio(cold.tinyOverFloor.p50), "", ratio(cold.tinyOverFloor.p99), "", "target ≤ 1.3×"]);
  }
  if (result.coldFromStemCell) {
    const cold = result.coldFromStemCell;
    rows.push(["3 cold start", "cold start from a stem cell", int(cold.samples), ms(cold.totalMs.p50, 0), ms(cold.totalMs.p90, 0), ms(cold.totalMs.p99, 0), "", "HEARTH_STEM_CELLS=node=1: the first request specializes a prewarmed container"]);
    for (const [phase, summary] of Object.entries(cold.phasesMs)) {
      rows.push(["3 cold start", `· ${phase}`, "", ms(summary.p50, 1), ms(summary.p90, 1), ms(summary.p99, 1), "", cold.phaseNotes[phase] ?? ""]);
    }
  }
  if (result.async) {
    const { accept, drain } = result.async;
    const cpu = drain.cpu;
    rows.push(["4 async", "accept (202)", ...loadCells(accept), cpuNote(accept, true) + nonOk(accept)]);
    rows.push(["4 async", "drain, end to end", int(drain.requests), "", "", "", int(drain.ratePerSec), `first accept → last run: ${ms(drain.durationMs, 0)} ms; CPU/invocation µs: gateway ${cpu.gatewayUs.toFixed(0)}, redis ${cpu.redisUs.toFixed(0)}, containers ${cpu.containersUs.toFixed(0)}; cores busy: these ${cpu.coresBusy.toFixed(2)}, others ${cpu.othersCores.toFixed(2)}`]);
  }
  if (result.footprint) {
    const { idleContainer: idle, inFlight: f } = result.footprint;
    const c = f.redisConnections;
    rows.push(["5 footprint", "memory per idle warm container (MiB)", int(idle.containers), ms(idle.workingSetMiB.p50, 1), "", ms(idle.workingSetMiB.max, 1), "", `cgroup working set (p99 column: max); RSS p50 ${ms(idle.rssMiB.p50, 1)} MiB`]);
    rows.push(["5 footprint", `gateway RSS, idle → ${int(f.requests)} in flight`, int(f.requests), "", "", "", "", `${ms(f.gatewayRssMiB.idle, 0)} → ${ms(f.gatewayRssMiB.inFlight, 0)} MiB (after: ${ms(f.gatewayRssMiB.after, 0)}); ${f.held} running, ${f.queued} queued; fds ${f.gatewayOpenFds.idle} → ${f.gatewayOpenFds.inFlight}`]);
    rows.push(["5 footprint", `Redis connections, idle → ${int(f.requests)} in flight`, int(f.requests), "", "", "", "", `gateway ${c.gatewayIdle} → ${c.gatewayInFlight}; all clients ${c.idle} → ${c.inFlight} (${Object.entries(c.byNameInFlight).map(([n, k]) => `${n} ${k}`).join(", ")})`]);
  }
  if (result.scaleDown) {
    const d = result.scaleDown;
    rows.push(["6 scale-down", `${d.containersAtStart} warm, ${d.ratePerSec.toFixed(1)} req/s, keepAlive ${d.keepAliveSeconds} s`, int(d.requests), "", "", "", int(d.ratePerSec), `requests per container: ${d.perContainer.join(", ")}; containers still there at the load's end ${d.containersAtLoadEnd}, a keep-alive after it ${d.containersAfterKeepAlive}${nonOk({ statuses: d.statuses } as LoadRow)}`]);
  }
  for (const run of result.hosts?.runs ?? []) {
    const item = `${run.hosts} invoker host${run.hosts > 1 ? "s" : ""}, containers ${run.containersPerHost.join(" + ")}, ${run.concurrency} in flight`;
    rows.push(["7 invoker hosts", item, ...loadCells(run), `one gateway and Redis; hosts share this machine's cores; client ${run.clientCpu.cores.toFixed(2)} cores${nonOk(run)}${run.timeCapped ? "; time cap reached" : ""}`]);
  }
  for (const run of result.cluster?.runs ?? []) {
    const where = run.placement
      ? `3-master cluster, slot ${run.placement.functionMaster === run.placement.replyMaster ? "on" : "not on"} the reply list's master`
      : "one redis-server";
    const item = `pass ${run.pass}: ${where}, ${run.containers} warm, ${run.concurrency} in flight`;
    rows.push(["8 redis cluster", item, ...loadCells(run), cpuNote(run, true) + (run.timeCapped ? "; time cap reached" : "")]);
  }
  if (result.profile) rows.push(...profileRows(result));
  for (const target of result.targets) {
    rows.push(["targets", target.name, "", "", "", "", "", `${target.met === null ? "–" : target.met ? "met" : "MISSED"}: ${target.measured} (target ${target.target})`]);
  }
  for (const error of result.errors) rows.push(["errors", error.section, "", "", "", "", "", error.message.replace(/\|/g, "/").replace(/\n/g, " ")]);
  return markdown([HEADER, ...rows]);
}

function markdown(rows: Row[]): string {
  const widths = HEADER.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
  const line = (row: string[]): string => `| ${row.map((cell, i) => (i >= 2 && i <= 6 ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!))).join(" | ")} |`;
  const rule = `|${widths.map((w, i) => (i >= 2 && i <= 6 ? `${"-".repeat(w + 1)}:` : "-".repeat(w + 2))).join("|")}|`;
  return [line(rows[0]!), rule, ...rows.slice(1).map(line)].join("\n");
}

function profileRows(result: BenchResult): Row[] {
  const p = result.profile!;
  const section = "6 profile c=1";
  const summary = (s: { p50: number; p90: number; p99: number }): [string, string, string] => [ms(s.p50, 3), ms(s.p90, 3), ms(s.p99, 3)];
  const rows: Row[] = [
    [section, "Hearth, 1 warm container", int(p.requests), ...summary(p.latencyMs), "", "the run whose CPU is split below"],
    [section, "direct express", "", ...summary(p.directLatencyMs), "", ""],
    [section, "hop: Redis PING (ioredis)", "", ...summary(p.hopsMs.redisPing), "", "one round trip from Node"],
    [section, "hop: Redis queue skeleton", "", ...summary(p.hopsMs.redisQueueHop), "", "LPUSH → BLMOVE wakes consumer → RPUSH → BLMPOP wakes producer (no Lua, no HTTP)"],
    [section, "hop: Runtime API", "", ...summary(p.hopsMs.runtimeApiHop), "", "adapter's RuntimeApi.invoke ↔ Node runtime (bootstrap.cjs, host Node): /next answered, /response posted"],
  ];
  for (const [process, cpu] of Object.entries(p.cpuUsPerRequest)) {
    const calls = p.syscallsPerRequest?.[process];
    const syscalls = calls ? `; ${calls.perRequest.toFixed(1)} syscalls/req (${calls.top.map((t) => `${t.syscall} ${t.perRequest.toFixed(1)}`).join(", ")})` : "";
    const kernel = Number.isFinite(cpu.system) ? `, kernel ${cpu.system.toFixed(0)}` : "";
    rows.push([section, `CPU: ${process}`, "", "", "", "", "", `µs/req: user ${cpu.user.toFixed(0)}${kernel}${syscalls}`]);
  }
  if (p.gatewayCpu) {
    rows.push([section, "gateway profile: busy", "", "", "", "", "", `${p.gatewayCpu.busyUsPerRequest.toFixed(0)} µs/req on the main thread (V8 sampling profile)`]);
    for (const group of p.gatewayCpu.groups.slice(0, 10)) {
      rows.push([section, `gateway profile: ${group.group}`, "", "", "", "", "", `${group.usPerRequest.toFixed(0)} µs/req (${(group.share * 100).toFixed(0)}%): ${group.topFunctions.join(", ")}`]);
    }
  }
  return rows;
}
