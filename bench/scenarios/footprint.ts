// 5. Footprint: memory of an idle warm container; then the gateway's memory and the Redis
// connections with `inFlight` sync requests in flight (two containers hold theirs at the bench's
// gate, the rest wait in the queue), against the same function idle.

import { readdir } from "node:fs/promises";
import { summarize } from "../load/stats.js";
import type { Plan } from "../options.js";
import type { FootprintResult } from "../results.js";
import { sleep } from "../services/hearth-api.js";
import type { WarmPool } from "../services/pool.js";
import { containerMemory, processRss } from "../services/proc.js";
import type { Stack } from "../services/stack.js";

const FUNCTION = "hold";
const HOLDERS = 2;
const MiB = 1024 * 1024;

export async function footprint(stack: Stack, pool: WarmPool, plan: Plan["footprint"], log: (line: string) => void): Promise<FootprintResult> {
  const idleContainer = await idleContainerMemory(stack, pool, plan.idleContainers);
  // The pool's containers would count among the connections: they go first.
  await pool.clear();

  // The host's network: its handler waits at the bench's gate on loopback.
  await stack.api.deploy(FUNCTION, { maxContainers: HOLDERS, keepAlive: 600, timeout: 120, network: "host" });
  try {
    await stack.api.prewarm(FUNCTION, HOLDERS);
    const idle = await snapshot(stack);
    const running = stack.load.run({
      url: `${stack.hearth.url}/function/${FUNCTION}`,
      body: JSON.stringify({ wait: stack.gate.holdUrl }),
      concurrency: plan.inFlight,
      count: plan.inFlight,
      maxDurationMs: 120_000,
      timeoutMs: 120_000,
    });
    let queued = 0;
    for (const until = Date.now() + 60_000; ; await sleep(50)) {
      queued = (await stack.api.status(FUNCTION)).queued;
      if ((queued >= plan.inFlight - HOLDERS && stack.gate.held >= HOLDERS) || Date.now() > until) break;
    }
    const held = stack.gate.held;
    const inFlight = await snapshot(stack);
    stack.gate.open();
    const result = await running;
    const afterRss = await processRss(stack.hearth.pid);
    const mib = (bytes: number): number => bytes / MiB;
    log(`footprint: gateway RSS ${mib(idle.rss).toFixed(0)} → ${mib(inFlight.rss).toFixed(0)} MiB with ${held + queued} in flight; Redis connections ${idle.clients.total} → ${inFlight.clients.total}`);
    return {
      idleContainer,
      inFlight: {
        requests: plan.inFlight,
        held,
        queued,
        gatewayRssMiB: { idle: mib(idle.rss), inFlight: mib(inFlight.rss), after: mib(afterRss) },
        gatewayOpenFds: { idle: idle.fds, inFlight: inFlight.fds },
        redisConnections: {
          idle: idle.clients.total,
          inFlight: inFlight.clients.total,
          gatewayIdle: idle.clients.gateway,
          gatewayInFlight: inFlight.clients.gateway,
          byNameInFlight: inFlight.clients.byName,
        },
        redisUsedMemoryMiB: { idle: mib(idle.redisMemory), inFlight: mib(inFlight.redisMemory) },
        answered: result.statuses,
      },
    };
  } finally {
    stack.gate.open();
    await stack.api.remove(FUNCTION).catch(() => undefined);
    await stack.containers.waitGone(FUNCTION).catch(() => undefined);
  }
}

async function idleContainerMemory(stack: Stack, pool: WarmPool, containers: number): Promise<FootprintResult["idleContainer"]> {
  const name = await pool.get(containers);
  // Idle for a moment: what a warm container holds between requests.
  await sleep(1000);
  const workingSet: number[] = [];
  const rss: number[] = [];
  for (const id of await pool.dockerIds(name)) {
    const memory = await containerMemory(id);
    if (!memory) continue;
    workingSet.push(memory.workingSetBytes / MiB);
    rss.push(memory.rssBytes / MiB);
  }
  return { containers: workingSet.length, workingSetMiB: summarize(workingSet), rssMiB: summarize(rss) };
}

async function snapshot(stack: Stack): Promise<{ rss: number; fds: number; clients: { total: number; gateway: number; byName: Record<string, number> }; redisMemory: number }> {
  const list = (await stack.redis.client("LIST")) as string;
  const byName: Record<string, number> = {};
  for (const line of list.trim().split("\n")) {
    const name = / name=(\S*)/.exec(line)?.[1] || "(unnamed)";
    const group = name.startsWith("hearth-adapter:") ? "hearth-adapter:*" : name;
    byName[group] = (byName[group] ?? 0) + 1;
  }
  const gateway = Object.entries(byName)
    .filter(([name]) => name.startsWith("hearth-") && name !== "hearth-adapter:*")
    .reduce((sum, [, count]) => sum + count, 0);
  const memory = await stack.redis.info("memory");
  return {
    rss: await processRss(stack.hearth.pid),
    fds: (await readdir(`/proc/${stack.hearth.pid}/fd`)).length,
    clients: { total: Object.values(byName).reduce((a, b) => a + b, 0), gateway, byName },
    redisMemory: Number(/^used_memory:(\d+)/m.exec(memory)?.[1] ?? NaN),
  };
}
