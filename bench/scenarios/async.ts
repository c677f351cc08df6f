// 4. Async: how fast `POST /async-function/:name` accepts requests, and how fast the accepted ones
// drain (accept of the first to the run of the last). Reported as not available while the gateway
// answers 404 for the route.

import type { Plan } from "../options.js";
import { loadRow, type AsyncResult } from "../results.js";
import { nowMs } from "../services/hearth-api.js";
import type { Stack } from "../services/stack.js";

const FUNCTION = "async-noop";
const ROUTE = "async-function";

export async function asyncInvocation(stack: Stack, plan: Plan["async"], log: (line: string) => void): Promise<AsyncResult> {
  await stack.api.deploy(FUNCTION, { maxContainers: plan.containers, keepAlive: 600, timeout: 30 });
  try {
    const probe = await stack.api.invoke(FUNCTION, {}, ROUTE);
    if (probe.status === 404) {
      const reason = `POST /${ROUTE}/:name answered 404 (${errorType(probe.body)}): async invocation is not in this build`;
      log(`async: not available (${reason})`);
      return { available: false, reason };
    }
    if (probe.status < 200 || probe.status >= 300) throw new Error(`POST /${ROUTE}/${FUNCTION} answered ${probe.status}: ${probe.body}`);
    await stack.api.prewarm(FUNCTION, plan.containers);

    const startedAt = nowMs();
    const accepted = await stack.load.run({ url: `${stack.hearth.url}/${ROUTE}/${FUNCTION}`, concurrency: plan.concurrency, count: plan.count, maxDurationMs: 60_000 });
    // The queue runs in order: once a request sent after all of them has run, they have all been taken.
    const lastRan = stack.gate.nextNotify();
    const marker = await stack.api.invoke(FUNCTION, { wait: stack.gate.notifyUrl }, ROUTE);
    if (marker.status < 200 || marker.status >= 300) throw new Error(`the last async request answered ${marker.status}`);
    const drainedAt = await Promise.race([lastRan, new Promise<number>((_, reject) => setTimeout(() => reject(new Error("async requests did not drain within 120 s")), 120_000))]);
    const accept = loadRow([accepted]);
    const requests = accept.requests + 1;
    const durationMs = drainedAt - startedAt;
    log(`async: accepted ${accept.ratePerSec.toFixed(0)}/s, drained ${((requests * 1000) / durationMs).toFixed(0)}/s`);
    return { available: true, accept, drain: { requests, durationMs, ratePerSec: (requests * 1000) / durationMs } };
  } finally {
    await stack.api.remove(FUNCTION).catch(() => undefined);
    await stack.containers.waitGone(FUNCTION).catch(() => undefined);
  }
}

function errorType(body: string): string {
  try {
    return (JSON.parse(body) as { errorType?: string }).errorType ?? "no errorType";
  } catch {
    return "not JSON";
  }
}
