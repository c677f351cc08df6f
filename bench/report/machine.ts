// What the run ran on: enough to tell two runs' machines apart and to see a busy one.

import { execFileSync } from "node:child_process";
import os from "node:os";
import type { BenchOptions } from "../options.js";
import { ROOT } from "../paths.js";
import { machineBusyMs } from "../services/proc.js";
import type { Stack } from "../services/stack.js";

export async function describeMachine(stack: Stack, options: BenchOptions): Promise<Record<string, unknown>> {
  const server = await stack.redis.info("server");
  const version = await stack.docker.version().catch(() => undefined);
  const image = await stack.docker.getImage(options.image).inspect().catch(() => undefined);
  const others = await stack.docker.listContainers().catch(() => []);
  return {
    startedAt: new Date().toISOString(),
    mode: options.mode,
    invokerId: stack.invokerId,
    plan: options.plan,
    gitCommit: git(["rev-parse", "--short", "HEAD"]),
    gitDirty: git(["status", "--porcelain", "--untracked-files=no"]) !== "",
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model,
    memoryGiB: Number((os.totalmem() / 1024 ** 3).toFixed(1)),
    kernel: `${os.type()} ${os.release()}`,
    node: process.version,
    redis: /^redis_version:(\S+)/m.exec(server)?.[1],
    docker: version?.Version,
    image: options.image,
    gateway: options.gateway,
    imageId: image?.Id,
    loadAverageAtStart: os.loadavg().map((value) => Number(value.toFixed(2))),
    machineBusyMsAtStart: await machineBusyMs(),
    otherContainersAtStart: others.filter((info) => !Object.values(info.Labels ?? {}).includes(stack.invokerId)).length,
  };
}

function git(args: string[]): string | undefined {
  try {
    return execFileSync("git", args, { cwd: ROOT, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
  } catch {
    return undefined;
  }
}
