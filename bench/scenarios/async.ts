// 4. Async: how fast `POST /async-function/:name` accepts requests (202 once they are in Redis), and
// how fast the accepted ones drain: from the first accept to the run of a request queued behind all
// of them, with the CPU each part spent per invocation over that time.

import type { Plan } from "../options.js";
import { loadRow, type AsyncResult } from "../results.js";
import { cpuPerRequest, cpuSnapshot } from "../services/cpu.js";
import { nowMs } from "../services/hearth-api.js";
import type { Stack } from "../services/stack.js";

const FUNCTION = "async-noop";
const ROUTE = "async-function";

export async function asyncInvocation(stack: Stack, plan: Plan["async"], log: (line: string) => void): Promise<AsyncResult> {
  // The host's network: its handler calls the bench's gate on loopback.
  await stack.api.deploy(FUNCTION, { maxContainers: plan.containers, keepAlive: 600, timeout: 30, network: "host" });
  try {
    await stack.api.prewarm(FUNCTION, plan.containers);
    const dockerIds = await stack.containers.list(FUNCTION);

    const before = await cpuSnapshot(stack, dockerIds);
    const startedAt = nowMs();
    const accepted = await stack.load.run({ url: `${stack.hearth.url}/${ROUTE}/${FUNCTION}`, concurrency: plan.concurrency, count: plan.count, maxDurationMs: 60_000 });
    // The queue runs in order: once a request sent after all of them has run, they have all been taken.
    const lastRan = stack.gate.nextNotify();
    const marker = await stack.api.invoke(FUNCTION, { wait: stack.gate.notifyUrl }, ROUTE);
    if (marker.status !== 202) throw new Error(`POST /${ROUTE}/${FUNCTION} answered ${marker.status}: ${marker.body}`);
    const drainedAt = await Promise.race([lastRan, new Promise<number>((_, reject) => setTimeout(() => reject(new Error("async requests did not drain within 120 s")), 120_000))]);
    const after = await cpuSnapshot(stack, dockerIds);

    const accept = loadRow([accepted]);
    const requests = accept.requests + 1;
    const durationMs = drainedAt - startedAt;
    // The client was busy while it sent, not over the whole drain.
    const clientCores = (accept.clientCpu.usPerRequest * accept.requests) / 1000 / durationMs;
    const drain = { requests, durationMs, ratePerSec: (requests * 1000) / durationMs, cpu: cpuPerRequest(before, after, requests, clientCores) };
    log(`async: accepted ${accept.ratePerSec.toFixed(0)}/s, drained ${drain.ratePerSec.toFixed(0)}/s`);
    return { accept, drain };
  } finally {
    await stack.api.remove(FUNCTION).catch(() => undefined);
    await stack.containers.waitGone(FUNCTION).catch(() => undefined);
  }
}
