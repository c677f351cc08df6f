// The invoker's view of one Docker engine: start function containers, hear when they exit, find the
// ones it owns. Every container carries labels naming its invoker, function and Hearth container id.

import { link, mkdir, readdir, readlink, rm, symlink } from "node:fs/promises";
import path from "node:path";
import type Docker from "dockerode";
import type { Runtime } from "../functions/definition.js";
import type { CodeCache } from "./code-cache.js";
import { containerLimits } from "./container-limits.js";
import type { LogLimits } from "../protocol/logs.js";
import type { ContainerCredentials } from "./container-users.js";

export const LABELS = {
  invoker: "io.hearth.invoker",
  function: "io.hearth.function",
  container: "io.hearth.container",
  /** On stem cells (no function label: a label cannot change when the cell is specialized): the runtime. */
  stem: "io.hearth.stem",
  /** On deploy-time compiler containers (gateway/functions/go-build.ts): the language built. */
  build: "io.hearth.build",
} as const;

/**
 * The adapter runs as root with only the capabilities to start the runtime under uid 10001 and to
 * signal it (no-new-privileges, nothing else): user code under 10001 cannot read the adapter's
 * environment or files, nor PID 1's (docker-init's, the same environment).
 */
const ADAPTER_USER = "0:0";
const ADAPTER_CAPABILITIES = ["SETUID", "SETGID", "KILL"];
/** Where the directory of Redis's unix socket is mounted, under a folder only root may enter. */
const REDIS_SOCKET_DIR = "/run/hearth/redis";
/** Where the function's code is mounted (read-only), as on Lambda. */
const TASK_ROOT = "/var/task";

export interface ContainerSpec {
  containerId: string;
  function: string;
  version: number;
  codeSha: string;
  runtime: Runtime;
  memoryMb: number;
  ephemeralStorageMb: number;
  /** `none`, or a Docker network the operator allows. */
  network: string;
  createdAt: number;
}

/** A stem cell: a container of a runtime's image whose adapter waits for a function (protocol/stem-cells.ts). */
export interface StemCellSpec {
  stemId: string;
  runtime: Runtime;
  memoryMb: number;
  ephemeralStorageMb: number;
  /** Always `none`: a function that names a network is not given a stem cell. */
  network: "none";
}

/** The Hearth container id is the label's: a stem cell's own id, also after it was specialized. */
export interface ContainerExit {
  containerId: string;
  exitCode: number;
  /** The kernel killed a process of it for its memory limit, and it exited with an error. */
  outOfMemory: boolean;
}

export interface DockerBackendOptions {
  invokerId: string;
  images: Record<Runtime, string>;
  /**
   * How containers reach Redis: a unix socket on this host (mounted into each), an address on their
   * network, or with a Redis Cluster the map of the sockets beside it (the directory mounted).
   */
  redis: { socketPath: string } | { url: string } | { slotsMap: string };
  /** Networks a function may name besides `none`. */
  allowedNetworks: string[];
  /** How long the adapter keeps the records of the async invocations it settles. */
  invocationRetentionMs: number;
  /** The bounds of the log lines and history the adapter writes. */
  logs: LogLimits;
  /** This host's unpacked code packages, mounted into containers. */
  codeCache: CodeCache;
  /** A function's code package from Redis; null when it is gone (the function was redeployed or deleted). */
  readCode(fn: string, codeSha: string): Promise<Buffer | null>;
}

/** What the invoker asks of its container engine (DockerBackend; a fake in the invoker's pool tests). */
export interface ContainerBackend {
  start(spec: ContainerSpec, credentials: ContainerCredentials): Promise<string>;
  startStemCell(spec: StemCellSpec, credentials: ContainerCredentials): Promise<string>;
  /** Sets a running container's memory limit (a stem cell taken by a function of another size). */
  resize(dockerId: string, memoryMb: number): Promise<void>;
  /** Puts a function's code into a stem cell's /var/task before it is handed over. */
  placeCode(stemId: string, fn: string, codeSha: string): Promise<void>;
  watchExits(onExit: (exit: ContainerExit) => void, onStreamLost: (error: unknown) => void): Promise<() => void>;
  listOwned(): Promise<string[]>;
  waitRemoved(dockerId: string, timeoutMs: number): Promise<boolean>;
  remove(dockerId: string): Promise<void>;
  /** Whether the engine answers at all. */
  ping(): Promise<boolean>;
}

export class DockerBackend implements ContainerBackend {
  /** The code package each running container mounts, by Hearth container id, held in the code cache until it exits. */
  private readonly mountedCode = new Map<string, string>();

  constructor(
    private readonly docker: Docker,
    private readonly options: DockerBackendOptions,
  ) {}

  async start(spec: ContainerSpec, credentials: ContainerCredentials): Promise<string> {
    if (spec.network !== "none" && !this.options.allowedNetworks.includes(spec.network)) {
      throw new Error(`network ${spec.network} is not in HEARTH_CONTAINER_NETWORKS`);
    }
    // No package: the function changed meanwhile; the adapter sees that and exits without one.
    const code = await this.options.codeCache.acquire(spec.codeSha, () => this.options.readCode(spec.function, spec.codeSha));
    if (code) this.mountedCode.set(spec.containerId, spec.codeSha);
    try {
      return await this.create(spec, credentials, {
        name: `hearth-${spec.function}-${spec.containerId}`,
        env: [`HEARTH_FUNCTION=${spec.function}`, `HEARTH_VERSION=${spec.version}`, `HEARTH_CONTAINER_ID=${spec.containerId}`, `HEARTH_CREATED_AT=${spec.createdAt}`],
        labels: { [LABELS.function]: spec.function, [LABELS.container]: spec.containerId },
        // Its own package only, never the cache's folder; read-only for everyone in the container, root too.
        taskRoot: code,
      });
    } catch (error) {
      this.unmountCode(spec.containerId);
      throw error;
    }
  }

  /**
   * The same container as a function's, but it learns its function from its stem key (HEARTH_STEM_ID).
   * Its /var/task is an empty folder of its own, mounted read-only: placeCode() fills it from the
   * host's side when the cell is specialized (a running container cannot be given a new mount).
   */
  async startStemCell(spec: StemCellSpec, credentials: ContainerCredentials): Promise<string> {
    const taskRoot = this.stemTaskRoot(spec.stemId);
    await mkdir(taskRoot, { recursive: true, mode: 0o755 });
    try {
      return await this.create(spec, credentials, {
        name: `hearth-stem-${spec.runtime}-${spec.stemId}`,
        env: [`HEARTH_STEM_ID=${spec.stemId}`],
        labels: { [LABELS.stem]: spec.runtime, [LABELS.container]: spec.stemId },
        taskRoot,
      });
    } catch (error) {
      await rm(taskRoot, { recursive: true, force: true });
      throw error;
    }
  }

  /**
   * Gives a stem cell its function's code: the package's tree from the code cache, hard-linked into
   * the cell's mounted folder (files writable by nobody, the mount read-only; the cache may evict its
   * tree later, the links stay). Nothing when the package is gone: the adapter sees the function changed.
   */
  async placeCode(stemId: string, fn: string, codeSha: string): Promise<void> {
    const tree = await this.options.codeCache.acquire(codeSha, () => this.options.readCode(fn, codeSha));
    if (!tree) return;
    try {
      await linkTree(tree, this.stemTaskRoot(stemId));
    } finally {
      this.options.codeCache.release(codeSha);
    }
  }

  async resize(dockerId: string, memoryMb: number): Promise<void> {
    const bytes = memoryMb * 1024 * 1024;
    await this.docker.getContainer(dockerId).update({ Memory: bytes, MemorySwap: bytes });
  }

  /** Beside the cache's folder (the same file system, for hard links), never inside it: the cache empties its folder when it opens. */
  private stemTaskRoot(stemId: string): string {
    return path.join(`${this.options.codeCache.directory}-stem-cells`, stemId);
  }

  private async create(
    spec: { runtime: Runtime; memoryMb: number; ephemeralStorageMb: number; network: string },
    credentials: ContainerCredentials,
    own: { name: string; env: string[]; labels: Record<string, string>; taskRoot?: string },
  ): Promise<string> {
    const redis = this.options.redis;
    const container = await this.docker.createContainer({
      name: own.name,
      Image: this.options.images[spec.runtime],
      User: ADAPTER_USER,
      Env: [
        containerRedisSetting(redis),
        `HEARTH_REDIS_USER=${credentials.username}`,
        `HEARTH_REDIS_PASSWORD=${credentials.password}`,
        ...own.env,
        `HEARTH_INVOKER_ID=${this.options.invokerId}`,
        `HEARTH_INVOCATION_RETENTION_MS=${this.options.invocationRetentionMs}`,
        `HEARTH_LOG_MAX_LINES=${this.options.logs.maxLines}`,
        `HEARTH_LOG_RETENTION_MS=${this.options.logs.retentionMs}`,
        `HEARTH_LOG_MAX_LINES_PER_INVOCATION=${this.options.logs.maxLinesPerInvocation}`,
        `HEARTH_LOG_MAX_LINE_LENGTH=${this.options.logs.maxLineLength}`,
        `HEARTH_INVOCATION_HISTORY_SIZE=${this.options.logs.historySize}`,
      ],
      Labels: { [LABELS.invoker]: this.options.invokerId, ...own.labels },
      HostConfig: {
        NetworkMode: spec.network,
        Binds: [
          // The socket's directory, not the socket: a restarted Redis makes a new socket file (and a
          // cluster's map is rewritten, and may name new sockets).
          ...("url" in redis ? [] : [`${path.dirname("socketPath" in redis ? redis.socketPath : redis.slotsMap)}:${REDIS_SOCKET_DIR}:ro`]),
          ...(own.taskRoot ? [`${own.taskRoot}:${TASK_ROOT}:ro`] : []),
        ],
        ...containerLimits(spec),
        Init: true,
        AutoRemove: true,
        SecurityOpt: ["no-new-privileges"],
        CapDrop: ["ALL"],
        CapAdd: ADAPTER_CAPABILITIES,
      },
    });
    try {
      await container.start();
    } catch (error) {
      await this.remove(container.id);
      throw error;
    }
    return container.id;
  }

  /**
   * Calls onExit for every container of this invoker that stops; returns a function that stops
   * watching. A lost event stream is resubscribed from the time of its last event, so no exit is
   * missed (one may be reported twice). Docker's `oom` event comes before the `die` of a container
   * whose process the kernel killed for its memory (the die event does not say so).
   */
  async watchExits(onExit: (exit: ContainerExit) => void, onStreamLost: (error: unknown) => void): Promise<() => void> {
    let stopped = false;
    let since: number | undefined;
    let current: (NodeJS.ReadableStream & { destroy(): void }) | undefined;
    /** Containers that had an `oom` event: an exit with an error after it is the memory limit's doing. */
    const outOfMemory = new Set<string>();
    const subscribe = async (): Promise<void> => {
      const stream = (await this.docker.getEvents({
        ...(since === undefined ? {} : { since }),
        filters: { type: ["container"], event: ["die", "oom"], label: [`${LABELS.invoker}=${this.options.invokerId}`] },
      })) as NodeJS.ReadableStream & { destroy(): void };
      current = stream;
      onDockerEvents(stream, (event) => {
        since = event.time ?? since;
        const attributes = event.Actor?.Attributes ?? {};
        const containerId = attributes[LABELS.container];
        if (!containerId) return;
        if (event.Action === "oom") {
          outOfMemory.add(containerId);
          return;
        }
        this.unmountCode(containerId);
        const exitCode = Number(attributes.exitCode ?? -1);
        onExit({ containerId, exitCode, outOfMemory: outOfMemory.delete(containerId) && exitCode !== 0 });
      });
      let lost = false;
      const onLost = (error?: unknown): void => {
        if (stopped || lost) return;
        lost = true;
        onStreamLost(error ?? new Error("event stream ended"));
        since ??= Math.floor(Date.now() / 1000);
        setTimeout(resubscribe, 1000);
      };
      stream.on("error", onLost);
      stream.on("end", () => onLost());
      stream.on("close", () => onLost());
    };
    const resubscribe = (): void => {
      if (!stopped) subscribe().catch((error: unknown) => {
        onStreamLost(error);
        setTimeout(resubscribe, 1000);
      });
    };
    await subscribe();
    return () => {
      stopped = true;
      current?.destroy();
    };
  }

  /** A container that mounted a package exited (or never started): the cache may evict the package; a stem cell's folder goes. */
  private unmountCode(containerId: string): void {
    rm(this.stemTaskRoot(containerId), { recursive: true, force: true }).catch(() => undefined);
    const sha = this.mountedCode.get(containerId);
    if (!sha) return;
    this.mountedCode.delete(containerId);
    this.options.codeCache.release(sha);
  }

  /** Docker ids of every container labelled with this invoker, running or not. */
  async ping(): Promise<boolean> {
    return this.docker.ping().then(
      () => true,
      () => false,
    );
  }

  async listOwned(): Promise<string[]> {
    const containers = await this.docker.listContainers({
      all: true,
      filters: { label: [`${LABELS.invoker}=${this.options.invokerId}`] },
    });
    return containers.map((info) => info.Id);
  }

  /**
   * Resolves once Docker has removed the container, or after timeoutMs. It asks every 100 ms rather
   * than with Docker's wait for removal, which can miss a removal that lands while it is set up and
   * then hangs for good, holding the process open (apocas/dockerode#596).
   */
  async waitRemoved(dockerId: string, timeoutMs: number): Promise<boolean> {
    const container = this.docker.getContainer(dockerId);
    for (const deadline = Date.now() + timeoutMs; Date.now() < deadline; ) {
      try {
        await container.inspect();
      } catch (error) {
        if ((error as { statusCode?: number }).statusCode === 404) return true;
        throw error;
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    return false;
  }

  /** Kills and removes a container; one that is already gone is fine. */
  async remove(dockerId: string): Promise<void> {
    try {
      await this.docker.getContainer(dockerId).remove({ force: true });
    } catch (error) {
      const status = (error as { statusCode?: number }).statusCode;
      if (status !== 404 && status !== 409) throw error;
    }
  }
}

/** The adapter's setting that says how it reaches Redis, as paths inside the container. */
function containerRedisSetting(redis: DockerBackendOptions["redis"]): string {
  if ("url" in redis) return `HEARTH_REDIS_URL=${redis.url}`;
  if ("socketPath" in redis) return `HEARTH_REDIS_SOCKET=${REDIS_SOCKET_DIR}/${path.basename(redis.socketPath)}`;
  return `HEARTH_REDIS_SLOTS=${REDIS_SOCKET_DIR}/${path.basename(redis.slotsMap)}`;
}

/** An event of the Docker Engine's event stream, as much of it as Hearth reads. */
export interface DockerEvent {
  /** Seconds since the epoch. */
  time?: number;
  timeNano?: number;
  Action?: string;
  Actor?: { ID?: string; Attributes?: Record<string, string> };
}

/** Calls onEvent for each event of a Docker event stream: JSON objects one per line, in chunks of any size. */
export function onDockerEvents(stream: NodeJS.ReadableStream, onEvent: (event: DockerEvent) => void): void {
  let buffered = "";
  stream.on("data", (chunk: Buffer) => {
    buffered += chunk.toString("utf8");
    for (let newline = buffered.indexOf("\n"); newline >= 0; newline = buffered.indexOf("\n")) {
      const line = buffered.slice(0, newline).trim();
      buffered = buffered.slice(newline + 1);
      if (line) onEvent(JSON.parse(line) as DockerEvent);
    }
  });
}

/** Recreates the tree at `from` under `to` with hard links to its files (and its links as they are: the cache's inspection allows only those that stay inside). */
async function linkTree(from: string, to: string): Promise<void> {
  for (const entry of await readdir(from, { withFileTypes: true })) {
    const source = path.join(from, entry.name);
    const target = path.join(to, entry.name);
    if (entry.isDirectory()) {
      await mkdir(target, { mode: 0o755 });
      await linkTree(source, target);
    } else if (entry.isSymbolicLink()) {
      await symlink(await readlink(source), target);
    } else if (entry.isFile()) {
      await link(source, target);
    }
  }
}
