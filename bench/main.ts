// `npm run bench`: starts what it needs, runs every section with bounded loads on loopback, prints
// one table and writes the run as JSON. See BENCHMARKS.md.

import { existsSync } from "node:fs";
import { mkdir, readdir, stat, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import Docker from "dockerode";
import { parseOptions, UsageError, type BenchOptions, type Section } from "./options.js";
import { LOAD_WORKER_ENTRY } from "./paths.js";
import { summarizeProfile } from "./profile/cpuprofile.js";
import { describeMachine } from "./report/machine.js";
import { renderTable } from "./report/table.js";
import { checkTargets } from "./report/targets.js";
import type { BenchResult } from "./results.js";
import { asyncInvocation } from "./scenarios/async.js";
import { bullmqPeer } from "./scenarios/bullmq.js";
import { coldStart } from "./scenarios/cold-start.js";
import { coldStartFromStemCell } from "./scenarios/stem-cell-start.js";
import { footprint } from "./scenarios/footprint.js";
import { invokerHosts } from "./scenarios/invoker-hosts.js";
import { profileWarmPath } from "./scenarios/profile.js";
import { redisCluster } from "./scenarios/redis-cluster.js";
import { scaleDown } from "./scenarios/scale-down.js";
import { throughput } from "./scenarios/throughput.js";
import { warmOverhead } from "./scenarios/warm-overhead.js";
import { WarmPool } from "./services/pool.js";
import { machineBusyMs } from "./services/proc.js";
import { startStack, type Stack } from "./services/stack.js";

const started = Date.now();
const log = (line: string): void => void process.stderr.write(`[bench +${((Date.now() - started) / 1000).toFixed(1)}s] ${line}\n`);

async function preflight(options: BenchOptions): Promise<void> {
  for (const file of [options.gateway, LOAD_WORKER_ENTRY]) {
    if (!existsSync(file)) throw new Error(`${file} is missing: run \`npm run build\` (npm run bench does)`);
  }
  const image = await new Docker().getImage(options.image).inspect().catch(() => undefined);
  if (!image) throw new Error(`image ${options.image} is missing: scripts/setup.sh builds hearth/runtime-node:latest (npm run bench runs it)`);
}

/** Sections in the order they run: the pool's containers serve 1, 2 and 5, then go before 5's count. */
const ORDER: Section[] = ["warm", "throughput", "footprint", "async", "cold", "bullmq", "scale-down", "hosts", "cluster", "profile"];

async function runSections(stack: Stack, options: BenchOptions, result: BenchResult): Promise<void> {
  const pool = new WarmPool(stack);
  const { plan } = options;
  for (const section of ORDER.filter((s) => options.sections.includes(s))) {
    log(`section ${section}`);
    try {
      if (section === "warm") result.warm = await warmOverhead(stack, pool, plan.warm, log);
      else if (section === "throughput") result.throughput = await throughput(stack, pool, plan.throughput, log);
      else if (section === "footprint") result.footprint = await footprint(stack, pool, plan.footprint, log);
      else if (section === "async") result.async = await asyncInvocation(stack, plan.async, log);
      else if (section === "cold") {
        result.cold = await coldStart(stack, plan.cold, options.image, log);
        result.coldFromStemCell = await coldStartFromStemCell(stack, options, plan.cold, log);
      }
      else if (section === "bullmq") result.bullmq = await bullmqPeer(stack, plan.bullmq, log);
      else if (section === "scale-down") result.scaleDown = await scaleDown(stack, plan.scaleDown, log);
      else if (section === "hosts") result.hosts = await invokerHosts(stack, options, plan.hosts, log);
      else if (section === "cluster") result.cluster = await redisCluster(stack, options, plan.cluster, log);
      else if (section === "profile") result.profile = await profileWarmPath(stack, pool, plan.profile.requests, options.profileDir, log);
    } catch (error) {
      log(`section ${section} failed: ${(error as Error).stack ?? error}`);
      result.errors.push({ section, message: (error as Error).message });
    }
  }
  await pool.clear();
}

/** The gateway wrote its CPU profile when it exited: the newest one in the directory is this run's. */
async function addGatewayProfile(result: BenchResult, options: BenchOptions, dir: string): Promise<void> {
  const profiles = (await readdir(dir)).filter((file) => file.endsWith(".cpuprofile"));
  const newest = (await Promise.all(profiles.map(async (file) => ({ file, at: (await stat(path.join(dir, file))).mtimeMs })))).sort((a, b) => b.at - a.at)[0];
  if (!newest || !result.profile) return log(`no gateway CPU profile in ${dir}`);
  result.profile.gatewayCpu = await summarizeProfile(path.join(dir, newest.file), `${options.gateway}.map`, result.profile.window, result.profile.requests);
  log(`gateway CPU profile: ${path.join(dir, newest.file)}`);
}

async function main(): Promise<number> {
  const options = parseOptions(process.argv.slice(2), process.env);
  await preflight(options);
  for (const dir of [options.profileDir, options.cpuProfileDir]) if (dir) await mkdir(dir, { recursive: true });
  log(`${options.mode} run, image ${options.image}, sections ${options.sections.join(", ")}`);
  const stack = await startStack(options, log);
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => (stopping ??= stack.stop());
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.once(signal, () => {
      log(`${signal}: stopping everything the bench started`);
      void stop().finally(() => process.exit(130));
    });
  }
  const result: BenchResult = { meta: {}, targets: [], errors: [] };
  try {
    result.meta = await describeMachine(stack, options);
    await runSections(stack, options, result);
  } finally {
    result.meta.loadAverageAtEnd = os.loadavg().map((value) => Number(value.toFixed(2)));
    // How busy the whole machine was, this run included: cores out of meta.cpus.
    result.meta.machineCoresBusy = Number((((await machineBusyMs()) - Number(result.meta.machineBusyMsAtStart)) / (Date.now() - started)).toFixed(2));
    result.meta.durationSeconds = Number(((Date.now() - started) / 1000).toFixed(1));
    log("stopping");
    await stop();
  }
  if (result.profile && options.cpuProfileDir) await addGatewayProfile(result, options, options.cpuProfileDir);
  result.targets = checkTargets(result);
  const table = renderTable(result);
  await mkdir(path.dirname(options.out), { recursive: true });
  await writeFile(options.out, JSON.stringify({ ...result, table }, null, 2) + "\n");
  const m = result.meta;
  process.stdout.write(
    `\nHearth benchmark (${options.mode}) — ${m.startedAt}, ${m.cpus} × ${m.cpuModel}, ${m.memoryGiB} GiB, ${m.kernel}, Node ${m.node}, Redis ${m.redis}, Docker ${m.docker}, image ${m.image}, commit ${m.gitCommit}${m.gitDirty ? "+" : ""}, load average ${String(m.loadAverageAtStart)} → ${String(m.loadAverageAtEnd)}, machine cores busy ${String(m.machineCoresBusy)} of ${m.cpus}\n\n${table}\n\nJSON: ${options.out}\n`,
  );
  return result.errors.length > 0 ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    if (error instanceof UsageError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(2);
    }
    log(`failed: ${(error as Error).stack ?? error}`);
    process.exit(1);
  },
);
