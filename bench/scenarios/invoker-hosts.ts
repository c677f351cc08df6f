// 7. Invoker hosts: sync throughput with one invoker host, then two, then one again, through the same
// gateway (the bench's Hearth, whose own invoker is the first host), Redis, function, container count and load.
// The second host is an invoker-only Hearth on a second Docker engine of this machine
// (test/support/second-engine.ts). Both hosts share this machine's cores: the rows say what a second
// invoker and engine cost or give the warm path, not what a second machine's cores would add.

import type Docker from "dockerode";
import { LABELS } from "../../gateway/invoker/docker-backend.js";
import { startSecondEngine } from "../../test/support/second-engine.js";
import type { BenchOptions, Plan } from "../options.js";
import { loadRow, type HostsRun } from "../results.js";
import { startHearthProcess } from "../services/hearth-process.js";
import type { Stack } from "../services/stack.js";

const FUNCTION = "noop-hosts";

export async function invokerHosts(stack: Stack, options: BenchOptions, plan: Plan["hosts"], log: (line: string) => void): Promise<{ runs: HostsRun[] }> {
  const runs: HostsRun[] = [];
  const settings = { maxContainers: plan.containers, keepAlive: 3600, timeout: 30, memory: 256 };
  const hosts: Array<{ docker: Docker; invokerId: string }> = [{ docker: stack.docker, invokerId: stack.invokerId }];
  const measure = async (): Promise<void> => {
    await stack.api.prewarm(FUNCTION, plan.containers);
    const containersPerHost = await Promise.all(
      hosts.map(async ({ docker, invokerId }) => (await docker.listContainers({ filters: { label: [`${LABELS.invoker}=${invokerId}`, `${LABELS.function}=${FUNCTION}`] } })).length),
    );
    const result = await stack.load.run({ url: `${stack.hearth.url}/function/${FUNCTION}`, concurrency: plan.concurrency, count: plan.count, warmup: plan.warmup, maxDurationMs: plan.maxDurationMs });
    const row = loadRow([result]);
    runs.push({ hosts: hosts.length, containersPerHost, concurrency: plan.concurrency, ...row });
    log(`invoker hosts: ${hosts.length} (containers ${containersPerHost.join(" + ")}), ${plan.concurrency} in flight: ${row.ratePerSec.toFixed(0)}/s, p99 ${row.latencyMs.p99.toFixed(2)} ms`);
  };

  await stack.api.deploy(FUNCTION, settings);
  try {
    await measure();
    const engine = await startSecondEngine([options.image], stack.docker);
    log(`second Docker engine up, ${options.image} copied into it in ${engine.imageLoadSeconds.toFixed(1)} s`);
    try {
      const invokerId = `${stack.invokerId}-b`;
      const second = await startHearthProcess({
        redis: { url: stack.redisUrl, socket: stack.redisSocket },
        invokerId,
        nodeImage: options.image,
        entry: options.gateway,
        dataDir: stack.workDir,
        adminToken: stack.adminToken,
        env: { HEARTH_ROLES: "invoker", DOCKER_HOST: engine.dockerHost },
      });
      try {
        hosts.push({ docker: engine.docker, invokerId });
        // A new version: the first host's containers retire, and the warm-up starts them anew on both hosts.
        await stack.api.redeploy(FUNCTION, settings);
        await measure();
      } finally {
        await second.stop();
        hosts.pop();
      }
    } finally {
      await engine.remove();
    }
    // One host again: the machine's other load drifts, and the rows before and after the two hosts bound it.
    await stack.api.redeploy(FUNCTION, settings);
    await measure();
  } finally {
    await stack.api.remove(FUNCTION);
    await stack.containers.waitGone(FUNCTION);
  }
  return { runs };
}
