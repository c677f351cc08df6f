// 3b. Cold start from a stem cell: the same function and request as section 3, served by a Hearth that
// keeps one Node stem cell (HEARTH_STEM_CELLS=node=1). It runs on a Redis and a Hearth process of its
// own, so that the bench's Hearth (no stem cells) takes none of its work. Each sample waits for an
// unspecialized stem cell, invokes, checks that the cell's connection became the function's container,
// then retires that container with a settings-only redeploy. The phases come from the adapter's `ready`
// timings, whose createdAt is when the invoker reserved the container (the specialization began).

import path from "node:path";
import { Redis } from "ioredis";
import { LABELS } from "../../gateway/invoker/docker-backend.js";
import { containerUserName } from "../../gateway/invoker/container-users.js";
import type { ColdStartTimings } from "../../gateway/protocol/envelope.js";
import { parseEvent } from "../../gateway/protocol/events.js";
import { EVENTS_CHANNEL } from "../../gateway/protocol/keys.js";
import { startEmbeddedRedis } from "../../gateway/redis/embedded-redis.js";
import { summarize, type LatencySummary } from "../load/stats.js";
import type { BenchOptions, Plan } from "../options.js";
import type { BenchResult, ColdStartSample } from "../results.js";
import { HearthApi, sleep } from "../services/hearth-api.js";
import { startHearthProcess } from "../services/hearth-process.js";
import type { Stack } from "../services/stack.js";

const FUNCTION = "cold-stem";

export const STEM_CELL_PHASES: Record<string, string> = {
  schedule: "request sent → invoker reserves a container (as in section 3)",
  handOver: "→ the stem cell's adapter has its function (function's Redis user made, memory limit set, hand-over pushed, AUTH)",
  codeLoaded: "→ adapter has the function's code (fetches and unpacks the package)",
  runtimeReady: "→ runtime ready (runtime process spawned, handler module loaded, first /next)",
  handlerDone: "→ result at the client (container registered idle, takes the request, runs the handler, replies)",
};

export async function coldStartFromStemCell(stack: Stack, options: BenchOptions, plan: Plan["cold"], log: (line: string) => void): Promise<NonNullable<BenchResult["coldFromStemCell"]>> {
  const redisServer = await startEmbeddedRedis(path.join(stack.workDir, "redis-stem"));
  const redis = new Redis(redisServer.url, { connectionName: "bench-stem" });
  const events = new Redis(redisServer.url, { connectionName: "bench-stem-events" });
  const invokerId = `${stack.invokerId}-stem`;
  const ready = new Map<string, ColdStartTimings>();
  events.on("message", (_channel: string, message: string) => {
    const event = parseEvent(message);
    if (event?.type === "ready" && event.function === FUNCTION) ready.set(event.containerId, event.timings);
  });
  await events.subscribe(EVENTS_CHANNEL);
  const hearth = await startHearthProcess({
    redis: { url: redisServer.url, socket: redisServer.socketPath },
    invokerId,
    nodeImage: options.image,
    entry: options.gateway,
    dataDir: path.join(stack.workDir, "hearth-stem"),
    adminToken: stack.adminToken,
    env: { HEARTH_STEM_CELLS: "node=1" },
  });
  const api = new HearthApi(hearth.url, stack.adminToken);
  const raw: ColdStartSample[] = [];
  try {
    const config = { maxContainers: 1, keepAlive: 600, timeout: 30, memory: 256 };
    await api.deploy(FUNCTION, config);
    const used = new Set<string>();
    for (let i = 0; i < plan.samples; i += 1) {
      const cell = await waitFor(async () => (await stemCells(stack, invokerId)).find((c) => !used.has(c.dockerId)), 60_000, "an unspecialized stem cell");
      used.add(cell.dockerId);
      // Its adapter is connected and waiting (a cell just started would make this sample a container start).
      await waitFor(async () => ((await redis.client("LIST")) as string).includes(`name=hearth-adapter:stem-${cell.stemId} `) || undefined, 30_000, "the stem cell's adapter connected");
      const invoked = await api.invoke(FUNCTION, {});
      if (invoked.status !== 200) throw new Error(`cold invocation answered ${invoked.status}: ${invoked.body}`);
      const [containerId, timings] = await waitFor(async () => [...ready.entries()].find(([, t]) => t.createdAt >= Math.floor(invoked.sentAt) - 1), 10_000, "the ready event");
      const connection = ((await redis.client("LIST")) as string).split("\n").find((line) => line.includes(`name=hearth-adapter:stem-${cell.stemId} `));
      if (!connection?.includes(` user=${containerUserName(invokerId, containerId)} `)) throw new Error("the request was not served by the stem cell");
      ready.delete(containerId);
      const marks = [invoked.sentAt, timings.createdAt, timings.processStartedAt, timings.codeLoadedAt, timings.runtimeReadyAt, invoked.answeredAt];
      const phasesMs: Record<string, number> = {};
      Object.keys(STEM_CELL_PHASES).forEach((name, at) => (phasesMs[name] = marks[at + 1]! - marks[at]!));
      raw.push({ containerId, status: invoked.status, totalMs: invoked.answeredAt - invoked.sentAt, phasesMs });
      // Retire it (a new version), and wait until Docker has removed it: each sample runs alone.
      await api.redeploy(FUNCTION, config);
      await waitFor(async () => ((await stack.docker.getContainer(cell.dockerId).inspect().then(() => false, () => true)) ? true : undefined), 60_000, "the container removed");
    }
  } finally {
    await api.remove(FUNCTION).catch(() => undefined);
    await hearth.stop();
    events.disconnect();
    redis.disconnect();
    await redisServer.stop();
  }
  const phasesMs: Record<string, LatencySummary> = {};
  for (const phase of Object.keys(STEM_CELL_PHASES)) phasesMs[phase] = summarize(raw.map((s) => s.phasesMs[phase]!));
  const totalMs = summarize(raw.map((s) => s.totalMs));
  log(`cold start from a stem cell: p50 ${totalMs.p50.toFixed(0)} ms, p99 ${totalMs.p99.toFixed(0)} ms over ${raw.length}`);
  return { samples: raw.length, totalMs, phasesMs, phaseNotes: STEM_CELL_PHASES, raw };
}

async function stemCells(stack: Stack, invokerId: string): Promise<Array<{ dockerId: string; stemId: string }>> {
  const found = await stack.docker.listContainers({ filters: { label: [`${LABELS.invoker}=${invokerId}`, `${LABELS.stem}=node`] } });
  return found.filter((info) => info.State === "running").map((info) => ({ dockerId: info.Id, stemId: info.Labels[LABELS.container]! }));
}

async function waitFor<T>(check: () => Promise<T | undefined>, timeoutMs: number, what: string): Promise<T> {
  for (const until = Date.now() + timeoutMs; Date.now() < until; await sleep(20)) {
    const value = await check();
    if (value !== undefined) return value;
  }
  throw new Error(`timed out waiting for ${what}`);
}
