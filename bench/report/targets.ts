// The targets, checked against a run's numbers (reported, never enforced).

import type { BenchResult, TargetCheck } from "../results.js";

export function checkTargets(result: BenchResult): TargetCheck[] {
  const checks: TargetCheck[] = [];
  const fmt = (value: number, unit: string, digits = 2): string => (Number.isFinite(value) ? `${value.toFixed(digits)} ${unit}` : "n/a");
  const check = (name: string, target: string, value: number | undefined, ok: (v: number) => boolean, shown: string): void => {
    checks.push({ name, target, measured: value === undefined ? "not measured" : shown, met: value === undefined || !Number.isFinite(value) ? null : ok(value) });
  };
  const c1 = result.warm?.levels.find((level) => level.concurrency === 1);
  check("warm overhead p50, c=1", "≤ 0.6 ms over direct express", c1?.overhead.p50.diffMs, (v) => v <= 0.6, fmt(c1?.overhead.p50.diffMs ?? NaN, "ms"));
  check("warm overhead p99, c=1", "≤ 2.5 ms over direct express", c1?.overhead.p99.diffMs, (v) => v <= 2.5, fmt(c1?.overhead.p99.diffMs ?? NaN, "ms"));
  const four = result.throughput?.runs.find((run) => run.target === "hearth" && run.containers === 4);
  check("throughput, 4 warm containers", "≥ 3,000 invocations/s", four?.ratePerSec, (v) => v >= 3000, fmt(four?.ratePerSec ?? NaN, "/s", 0));
  // Issue 12 (dispatch): more containers must not mean less throughput; a peer's round trip; scale-down.
  const one = result.throughput?.runs.find((run) => run.target === "hearth" && run.containers === 1);
  const sixteen = result.throughput?.runs.find((run) => run.target === "hearth" && run.containers === 16);
  check(
    "throughput, 16 warm containers (c=16) / 1 container (c=4)",
    "≥ 1×",
    one && sixteen ? sixteen.ratePerSec / one.ratePerSec : undefined,
    (v) => v >= 1,
    one && sixteen ? `${fmt(sixteen.ratePerSec / one.ratePerSec, "×")} (${Math.round(sixteen.ratePerSec)} vs ${Math.round(one.ratePerSec)} /s)` : "",
  );
  for (const peer of result.bullmq?.runs ?? []) {
    const hearth = result.warm?.levels.find((level) => level.concurrency === peer.concurrency)?.hearth;
    check(
      `Hearth sync vs BullMQ round trip, c=${peer.concurrency}`,
      "≥ 1× BullMQ's rate",
      hearth ? hearth.ratePerSec / peer.ratePerSec : undefined,
      (v) => v >= 1,
      hearth ? `${fmt(hearth.ratePerSec / peer.ratePerSec, "×")} (${Math.round(hearth.ratePerSec)} vs ${Math.round(peer.ratePerSec)} /s)` : "",
    );
  }
  const scaleDown = result.scaleDown;
  check(
    "scale-down: containers serving a light steady load, and left a keep-alive later",
    "1 serves it; the others are gone",
    scaleDown ? scaleDown.perContainer.length : undefined,
    (v) => v === 1 && scaleDown!.containersAtLoadEnd === 1,
    scaleDown ? `${scaleDown.perContainer.length} served it (${scaleDown.perContainer.join(", ")}); ${scaleDown.containersAtLoadEnd} of ${scaleDown.containersAtStart} left at its end` : "",
  );
  check("cold start p50", "≤ 250 ms", result.cold?.totalMs.p50, (v) => v <= 250, fmt(result.cold?.totalMs.p50 ?? NaN, "ms", 0));
  check("cold start, cached 20 MiB package / tiny, p50", "≤ 1.1×", result.cold?.bigOverTiny.p50, (v) => v <= 1.1, fmt(result.cold?.bigOverTiny.p50 ?? NaN, "×"));
  const floor = result.cold?.floor.totalMs.p50;
  const stem = result.coldFromStemCell?.totalMs.p50;
  check("cold start from a stem cell / bare container (floor), p50", "≤ 0.3×", floor && stem ? stem / floor : undefined, (v) => v <= 0.3, fmt(floor && stem ? stem / floor : NaN, "×"));
  check("cold start / bare container (floor), p50", "≤ 1.3×", result.cold?.tinyOverFloor.p50, (v) => v <= 1.3, fmt(result.cold?.tinyOverFloor.p50 ?? NaN, "×"));
  const connections = result.footprint?.inFlight.redisConnections;
  check(
    "Redis connections vs requests in flight",
    "independent of requests in flight",
    connections ? connections.gatewayInFlight - connections.gatewayIdle : undefined,
    (v) => v === 0,
    connections ? `gateway ${connections.gatewayIdle} idle → ${connections.gatewayInFlight} with ${result.footprint!.inFlight.requests} in flight` : "",
  );
  return checks;
}
