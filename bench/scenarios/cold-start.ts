// 3. Cold start: one request to a function with no container, from request to result, then a
// settings-only redeploy retires the container (and the bench waits until Docker has removed it)
// before the next sample, so each cold start runs alone. The split comes from three clocks on one
// host: the bench's (request, result), Docker's events (create, start) and the adapter's own
// timings on its `ready` event (definition checked, runtime ready).
// Measured in rounds, so that a busy moment of the machine falls on every row alike: the floor (a bare
// container of the runtime image that runs `true`), the tiny no-op package, and the same handler with
// 20 MiB of incompressible files beside it, whose first cold start on this host (the code cache
// unpacking it) is measured on its own before the rounds.

import type Docker from "dockerode";
import { LABELS } from "../../gateway/invoker/docker-backend.js";
import { summarize, type LatencySummary } from "../load/stats.js";
import type { Plan } from "../options.js";
import type { ColdStartResult, ColdStartSample, PercentileRatios } from "../results.js";
import type { ContainerHistory } from "../services/containers.js";
import { noopPackage, nowMs } from "../services/hearth-api.js";
import type { Stack } from "../services/stack.js";

const TINY = "cold";
const BIG = "cold-big";
export const BIG_PACKAGE_MIB = 20;
const CONFIG = { maxContainers: 1, keepAlive: 600, timeout: 30, memory: 256 };

export const COLD_START_PHASES: Record<string, string> = {
  schedule: "request sent → invoker reserves a container (gateway queues it, publishes `work`, invoker runs reserve-container.lua)",
  create: "→ Docker `create` event (invoker mounts the code from its code cache, unpacking it first if this host has not; createContainer)",
  start: "→ Docker `start` event (container's process started)",
  adapterReady: "→ adapter has checked the function's version (Node boots the adapter, connects to Redis, reads the definition; the code is mounted)",
  codeLoaded: "→ runtime ready (runtime process spawned, handler module loaded, first /next)",
  handlerDone: "→ result at the client (container registered idle, takes the request, runs the handler, replies)",
};

export async function coldStart(stack: Stack, plan: Plan["cold"], image: string, log: (line: string) => void): Promise<ColdStartResult> {
  const bigPackage = await noopPackage(BIG_PACKAGE_MIB);
  await stack.api.deploy(TINY, CONFIG);
  await stack.api.deploy(BIG, CONFIG, bigPackage);
  const floor: Array<{ totalMs: number; removeMs: number }> = [];
  const tiny: ColdStartSample[] = [];
  const big: ColdStartSample[] = [];
  try {
    const first = await coldSample(stack, BIG);
    for (let i = 0; i < plan.samples; i += 1) {
      floor.push(await bareContainer(stack.docker, image, stack.invokerId));
      tiny.push(await coldSample(stack, TINY));
      big.push(await coldSample(stack, BIG));
    }
    const totalMs = summarize(tiny.map((s) => s.totalMs));
    const bigTotalMs = summarize(big.map((s) => s.totalMs));
    const floorMs = summarize(floor.map((s) => s.totalMs));
    log(`cold start: floor p50 ${floorMs.p50.toFixed(0)} ms, tiny p50 ${totalMs.p50.toFixed(0)} ms, ${BIG_PACKAGE_MIB} MiB p50 ${bigTotalMs.p50.toFixed(0)} ms (first ${first.totalMs.toFixed(0)} ms) over ${tiny.length}`);
    return {
      samples: tiny.length,
      totalMs,
      phasesMs: phases(tiny),
      phaseNotes: COLD_START_PHASES,
      raw: tiny,
      floor: { samples: floor.length, totalMs: floorMs, removeMs: summarize(floor.map((s) => s.removeMs)) },
      big: { packageBytes: bigPackage.length, first, samples: big.length, totalMs: bigTotalMs, phasesMs: phases(big), raw: big },
      bigOverTiny: ratios(bigTotalMs, totalMs),
      tinyOverFloor: ratios(totalMs, floorMs),
    };
  } finally {
    for (const name of [TINY, BIG]) await stack.api.remove(name).catch(() => undefined);
  }
}

/** One cold start of `name`, alone: none of its containers is left when it begins or when it returns. */
async function coldSample(stack: Stack, name: string): Promise<ColdStartSample> {
  await stack.containers.waitGone(name);
  const invoked = await stack.api.invoke(name, {});
  if (invoked.status !== 200) throw new Error(`cold invocation of ${name} answered ${invoked.status}: ${invoked.body}`);
  const history = await stack.containers.waitFor(() => {
    const found = [...stack.containers.history.values()].find((h) => h.function === name && h.ready && h.ready.createdAt >= Math.floor(invoked.sentAt) - 1);
    return found?.createdAt !== undefined && found.startedAt !== undefined ? found : undefined;
  }, 10_000);
  if (!history) throw new Error(`no ready event or Docker events for the cold container of ${name}`);
  // Retire it: a new version makes the invoker wake and retire the idle container (same code: the same cached package).
  await stack.api.redeploy(name, CONFIG);
  await stack.containers.waitGone(name);
  return sample(history, invoked.status, invoked.sentAt, invoked.answeredAt);
}

/**
 * `docker run --rm --entrypoint true <image>` through the Engine API, as the invoker talks to it:
 * create, start, wait for the exit, remove. What any container of the image costs on this host.
 */
async function bareContainer(docker: Docker, image: string, invokerId: string): Promise<{ totalMs: number; removeMs: number }> {
  const began = nowMs();
  const container = await docker.createContainer({ Image: image, Entrypoint: ["true"], Labels: { [LABELS.invoker]: invokerId }, HostConfig: { NetworkMode: "none" } });
  let exited = began;
  try {
    await container.start();
    await container.wait();
    exited = nowMs();
  } finally {
    await container.remove({ force: true });
  }
  const removed = nowMs();
  return { totalMs: removed - began, removeMs: removed - exited };
}

function phases(raw: ColdStartSample[]): Record<string, LatencySummary> {
  const phasesMs: Record<string, LatencySummary> = {};
  for (const phase of Object.keys(COLD_START_PHASES)) phasesMs[phase] = summarize(raw.map((s) => s.phasesMs[phase]!));
  return phasesMs;
}

function ratios(over: LatencySummary, under: LatencySummary): PercentileRatios {
  return { p50: over.p50 / under.p50, p99: over.p99 / under.p99 };
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
