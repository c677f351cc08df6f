// 7. Scale-down: N warm containers of a function with a short keep-alive under a light steady load
// (an open loop at a fixed rate, bounded in time), then how the requests spread over the containers
// (each answers with its host name, its Docker id), how many containers are still there when the load
// ends (it runs for several keep-alives: only those the load kept using are left) and a keep-alive
// after it. A pool that sends work to its most recently used container lets the others
// retire; one that spreads work over all of them keeps every one alive.

import type { Plan } from "../options.js";
import type { ScaleDownResult } from "../results.js";
import { sleep, type Invoked } from "../services/hearth-api.js";
import type { Stack } from "../services/stack.js";

const FUNCTION = "scale-down";
/** After the keep-alive, this long for the retired containers' exits to reach the pool's records. */
const SETTLE_MS = 3_000;

export async function scaleDown(stack: Stack, plan: Plan["scaleDown"], log: (line: string) => void): Promise<ScaleDownResult> {
  await stack.api.deploy(FUNCTION, { maxContainers: plan.containers, keepAlive: plan.keepAliveSeconds, timeout: 30, memory: 256 });
  try {
    await stack.api.prewarm(FUNCTION, plan.containers);
    const containersAtStart = total(await stack.api.status(FUNCTION));
    const sent: Array<Promise<Invoked>> = [];
    const intervalMs = 1000 / plan.ratePerSec;
    const started = Date.now();
    for (let i = 0; i < plan.ratePerSec * plan.seconds; i += 1) {
      await sleep(Math.max(0, started + i * intervalMs - Date.now()));
      sent.push(stack.api.invoke(FUNCTION, { whoami: true }));
    }
    const answers = await Promise.all(sent);
    const elapsedMs = Date.now() - started;
    const statuses: Record<string, number> = {};
    const byHost = new Map<string, number>();
    for (const answer of answers) {
      statuses[answer.status] = (statuses[answer.status] ?? 0) + 1;
      if (answer.status !== 200) continue;
      const host = (JSON.parse(answer.body) as { host: string }).host;
      byHost.set(host, (byHost.get(host) ?? 0) + 1);
    }
    const containersAtLoadEnd = total(await stack.api.status(FUNCTION));
    await sleep(plan.keepAliveSeconds * 1000 + SETTLE_MS);
    const containersAfterKeepAlive = total(await stack.api.status(FUNCTION));
    const perContainer = [...byHost.values()].sort((a, b) => b - a);
    log(`scale-down: ${answers.length} requests over ${perContainer.length} container(s) (${perContainer.join(", ")}); ${containersAtLoadEnd} of ${containersAtStart} left at the load's end, ${containersAfterKeepAlive} a keep-alive later`);
    return {
      containersAtStart,
      requests: answers.length,
      statuses,
      ratePerSec: (answers.length * 1000) / elapsedMs,
      perContainer,
      keepAliveSeconds: plan.keepAliveSeconds,
      containersAtLoadEnd,
      containersAfterKeepAlive,
    };
  } finally {
    await stack.api.remove(FUNCTION);
    await stack.containers.waitGone(FUNCTION);
  }
}

function total({ containers }: { containers: { starting: number; idle: number; busy: number } }): number {
  return containers.starting + containers.idle + containers.busy;
}
