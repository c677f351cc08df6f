// 3. Cold start: one request to a function with no container, from request to result, then a
// settings-only redeploy retires the container (and the bench waits until Docker has removed it)
// before the next sample, so each cold start runs alone. The split comes from three clocks on one
// host: the bench's (request, result), Docker's events (create, start) and the adapter's own
// timings on its `ready` event (code loaded, runtime ready).

import { summarize } from "../load/stats.js";
import type { Plan } from "../options.js";
import type { ColdStartResult, ColdStartSample } from "../results.js";
import type { ContainerHistory } from "../services/containers.js";
import type { Stack } from "../services/stack.js";

const FUNCTION = "cold";

export const COLD_START_PHASES: Record<string, string> = {
  schedule: "request sent → invoker reserves a container (gateway queues it, publishes `work`, invoker runs reserve-container.lua)",
  create: "→ Docker `create` event (invoker's createContainer call)",
  start: "→ Docker `start` event (container's process started)",
  adapterReady: "→ adapter has the function's code (Node boots the adapter, connects to Redis, fetches and unpacks the package)",
  codeLoaded: "→ runtime ready (runtime process spawned, handler module loaded, first /next)",
  handlerDone: "→ result at the client (container registered idle, takes the request, runs the handler, replies)",
};

export async function coldStart(stack: Stack, plan: Plan["cold"], log: (line: string) => void): Promise<ColdStartResult> {
  const config = { maxContainers: 1, keepAlive: 600, timeout: 30, memory: 256 };
  await stack.api.deploy(FUNCTION, config);
  const raw: ColdStartSample[] = [];
  try {
    for (let i = 0; i < plan.samples; i += 1) {
      await stack.containers.waitGone(FUNCTION);
      const invoked = await stack.api.invoke(FUNCTION, {});
      if (invoked.status !== 200) throw new Error(`cold invocation answered ${invoked.status}: ${invoked.body}`);
      const history = await stack.containers.waitFor(() => {
        const found = [...stack.containers.history.values()].find((h) => h.function === FUNCTION && h.ready && h.ready.createdAt >= Math.floor(invoked.sentAt) - 1);
        return found?.createdAt !== undefined && found.startedAt !== undefined ? found : undefined;
      }, 10_000);
      if (!history) throw new Error("no ready event or Docker events for the cold container");
      raw.push(sample(history, invoked.status, invoked.sentAt, invoked.answeredAt));
      // Retire it: a new version makes the invoker wake and retire the idle container.
      await stack.api.redeploy(FUNCTION, config);
    }
    await stack.containers.waitGone(FUNCTION);
  } finally {
    await stack.api.remove(FUNCTION).catch(() => undefined);
  }
  const phasesMs: ColdStartResult["phasesMs"] = {};
  for (const phase of Object.keys(COLD_START_PHASES)) phasesMs[phase] = summarize(raw.map((s) => s.phasesMs[phase]!));
  const totalMs = summarize(raw.map((s) => s.totalMs));
  log(`cold start: p50 ${totalMs.p50.toFixed(0)} ms, p99 ${totalMs.p99.toFixed(0)} ms over ${raw.length}`);
  return { samples: raw.length, totalMs, phasesMs, phaseNotes: COLD_START_PHASES, raw };
}

function sample(h: ContainerHistory, status: number, sentAt: number, answeredAt: number): ColdStartSample {
  const ready = h.ready!;
  // Each phase ends where the next begins, so the phases add up to the total.
  const marks = [sentAt, ready.createdAt, h.createdAt!, h.startedAt!, ready.codeLoadedAt, ready.runtimeReadyAt, answeredAt];
  const names = Object.keys(COLD_START_PHASES);
  const phasesMs: Record<string, number> = {};
  names.forEach((name, i) => (phasesMs[name] = marks[i + 1]! - marks[i]!));
  return {
    containerId: h.containerId,
    status,
    totalMs: answeredAt - sentAt,
    phasesMs,
    processStartAfterDockerStartMs: ready.processStartedAt - h.startedAt!,
  };
}
