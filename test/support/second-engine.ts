// A second Docker engine on this machine, as a second invoker host: a `dockerd` of its own (socket,
// data root, exec root, pidfile and containerd under one temporary directory), no bridge, no iptables
// (function containers use network `none`). It starts with no images: the ones asked for are copied
// from the machine's engine. Used by the tests of several invoker hosts and by the bench; no vitest here.
//
// A dockerd killed with SIGKILL leaves its containers running (their containerd shims outlive it) and
// its mounts in place: remove() kills those containers and shims by their task directories (under
// this engine's exec root: nothing else's), then unmounts.

import { execFile, spawn, type ChildProcess } from "node:child_process";
import { createWriteStream } from "node:fs";
import { mkdtemp, readdir, readFile, readlink, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import Docker from "dockerode";

const START_TIMEOUT_MS = 30_000;
/** dockerd stops its containers on SIGTERM (10 s each at most, in parallel) before it exits. */
const STOP_TIMEOUT_MS = 30_000;

export interface SecondEngine {
  /** DOCKER_HOST for a process that should use this engine (an invoker). */
  dockerHost: string;
  docker: Docker;
  /** How long copying the images into it took, in seconds. */
  imageLoadSeconds: number;
  /** The running dockerd's pid (undefined while it is down). */
  pid(): number | undefined;
  /** Signals dockerd and waits until it has exited: SIGTERM stops its containers first, SIGKILL leaves them running. */
  kill(signal: "SIGTERM" | "SIGKILL"): Promise<void>;
  /** Starts it again on the same directories (images kept). */
  restart(): Promise<void>;
  /** Removes its containers, stops it, unmounts what it mounted and deletes its directory. */
  remove(): Promise<void>;
}

/** Starts the engine and copies `images` (tags of the machine's engine) into it. */
export async function startSecondEngine(images: string[], machine = new Docker()): Promise<SecondEngine> {
  const dir = await mkdtemp(path.join(os.tmpdir(), "hearth-engine-"));
  const socketPath = path.join(dir, "docker.sock");
  const docker = new Docker({ socketPath });
  let daemon: ChildProcess | undefined;

  const start = async (): Promise<void> => {
    const log = createWriteStream(path.join(dir, "dockerd.log"), { flags: "a" });
    const child = spawn(
      "dockerd",
      [`--host=unix://${socketPath}`, `--data-root=${dir}/data`, `--exec-root=${dir}/exec`, `--pidfile=${dir}/docker.pid`, "--bridge=none", "--iptables=false", "--ip-masq=false"],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    child.stdout!.pipe(log);
    child.stderr!.pipe(log);
    daemon = child;
    const exited = new Promise<never>((_, reject) => child.once("exit", (code, signal) => reject(new Error(`dockerd exited (${code ?? signal}) at start; its log: ${dir}/dockerd.log`))));
    exited.catch(() => undefined);
    const until = Date.now() + START_TIMEOUT_MS;
    for (;;) {
      const ready = await Promise.race([docker.ping().then(() => true, () => false), exited]);
      if (ready) return;
      if (Date.now() > until) {
        await kill("SIGKILL");
        throw new Error(`dockerd did not answer within ${START_TIMEOUT_MS / 1000} s; its log: ${dir}/dockerd.log`);
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  };

  const kill = async (signal: "SIGTERM" | "SIGKILL"): Promise<void> => {
    const child = daemon;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once("exit", resolve));
    child.kill(signal);
    const timer = setTimeout(() => child.kill("SIGKILL"), STOP_TIMEOUT_MS);
    await exited;
    clearTimeout(timer);
    daemon = undefined;
  };

  const remove = async (): Promise<void> => {
    if (daemon) {
      const containers = await docker.listContainers({ all: true }).catch(() => []);
      for (const info of containers) await docker.getContainer(info.Id).remove({ force: true }).catch(() => undefined);
      await kill("SIGTERM");
    }
    await killOrphanedTasks(path.join(dir, "exec", "containerd", "daemon", "io.containerd.runtime.v2.task"));
    await unmountUnder(dir);
    await rm(dir, { recursive: true, force: true });
  };

  try {
    await start();
    const loadStartedAt = Date.now();
    for (const image of images) await copyImage(machine, docker, image);
    const imageLoadSeconds = (Date.now() - loadStartedAt) / 1000;
    return { dockerHost: `unix://${socketPath}`, docker, imageLoadSeconds, pid: () => daemon?.pid, kill, restart: start, remove };
  } catch (error) {
    await remove();
    throw error;
  }
}

/** `docker save image | docker -H engine load`, through the two engines' APIs. */
async function copyImage(from: Docker, to: Docker, image: string): Promise<void> {
  const tar = await from.getImage(image).get();
  const progress = await to.loadImage(tar);
  await new Promise<void>((resolve, reject) => to.modem.followProgress(progress, (error: Error | null) => (error ? reject(error) : resolve())));
  await to.getImage(image).inspect();
}

/**
 * What a killed dockerd's containers left running: each task directory holds the pid of the
 * container's init (killing it ends the container's pid namespace), and is its shim's working directory.
 */
async function killOrphanedTasks(tasksDir: string): Promise<void> {
  const signal = (pid: number): void => {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // already gone
    }
  };
  const namespaces = await readdir(tasksDir).catch(() => []);
  const tasks = (await Promise.all(namespaces.map(async (ns) => (await readdir(path.join(tasksDir, ns)).catch(() => [])).map((id) => path.join(tasksDir, ns, id))))).flat();
  if (tasks.length === 0) return;
  for (const task of tasks) {
    const init = Number((await readFile(path.join(task, "init.pid"), "utf8").catch(() => "")).trim());
    if (init > 0) signal(init);
  }
  for (const pid of await readdir("/proc")) {
    if (!/^\d+$/.test(pid)) continue;
    const cwd = await readlink(`/proc/${pid}/cwd`).catch(() => "");
    if (cwd.startsWith(`${tasksDir}/`)) signal(Number(pid));
  }
  // The kernel tears a killed pid namespace down asynchronously: give its mounts a moment to be released.
  await new Promise((resolve) => setTimeout(resolve, 500));
}

/** Unmounts, deepest first, what dockerd left mounted under `dir` (overlay layers, network namespaces, its data root). */
async function unmountUnder(dir: string): Promise<void> {
  const mountInfo = await readFile("/proc/self/mountinfo", "utf8");
  const mountPoints = mountInfo
    .split("\n")
    .map((line) => line.split(" ")[4])
    .filter((point): point is string => point !== undefined && (point === dir || point.startsWith(`${dir}/`)))
    .sort((a, b) => b.length - a.length);
  for (const point of mountPoints) await promisify(execFile)("umount", [point]).catch(() => undefined);
}
