// Hearth's settings, all from the environment with embedded defaults: `node dist/hearth.cjs` with no
// variables set runs API + invoker on 127.0.0.1:8080 with its own redis-server.

import os from "node:os";
import path from "node:path";
import { z } from "zod";
import { MIN_ADMIN_TOKEN_LENGTH } from "./auth/admin-token.js";
import type { Runtime } from "./functions/definition.js";
import type { HostLimits } from "./invoker/host-capacity.js";
import type { LogLimits } from "./protocol/logs.js";
import type { RedisTarget } from "./redis/connections.js";

const MiB = 1024 * 1024;

const envSchema = z.object({
  PORT: z.coerce.number().int().min(0).max(65535).default(8080),
  HEARTH_HOST: z.string().default("127.0.0.1"),
  /** Unset: Hearth starts its own redis-server with data in HEARTH_DATA_DIR. Hearth's own credentials go in it (redis://user:password@host:port). */
  REDIS_URL: z.string().optional(),
  /**
   * Instead of REDIS_URL: Redis behind Sentinel, `host:port,…` of the Sentinels and the master's name
   * there; Redis's credentials in REDIS_USERNAME/REDIS_PASSWORD, the Sentinels' in REDIS_SENTINEL_PASSWORD.
   */
  REDIS_SENTINELS: z
    .string()
    .regex(/^[^,:\s]+:\d+(,[^,:\s]+:\d+)*$/, "REDIS_SENTINELS is a comma list of host:port")
    .optional(),
  REDIS_SENTINEL_MASTER: z.string().min(1).optional(),
  /**
   * Instead of REDIS_URL: a Redis Cluster, `host:port,…` of some of its masters (the rest are found);
   * the credentials in REDIS_USERNAME/REDIS_PASSWORD, the same on every node.
   */
  REDIS_CLUSTER_NODES: z
    .string()
    .regex(/^[^,:\s]+:\d+(,[^,:\s]+:\d+)*$/, "REDIS_CLUSTER_NODES is a comma list of host:port")
    .optional(),
  REDIS_USERNAME: z.string().min(1).optional(),
  REDIS_PASSWORD: z.string().min(1).optional(),
  REDIS_SENTINEL_PASSWORD: z.string().min(1).optional(),
  /**
   * A 202 waits (WAIT) until this many replicas have the invocation, at most the timeout, else 503:
   * default 1 with Sentinel or a Cluster (a failover keeps what was acknowledged), 0 otherwise (and
   * for a Cluster without replicas).
   */
  HEARTH_ASYNC_REPLICAS: z.coerce.number().int().min(0).optional(),
  HEARTH_ASYNC_REPLICA_TIMEOUT_MS: z.coerce.number().int().positive().default(1_000),
  HEARTH_DATA_DIR: z.string().default(".hearth"),
  /** The admin key. Unset: generated into HEARTH_DATA_DIR on the embedded default; required with REDIS_URL. */
  HEARTH_ADMIN_TOKEN: z.string().min(MIN_ADMIN_TOKEN_LENGTH, `HEARTH_ADMIN_TOKEN is at least ${MIN_ADMIN_TOKEN_LENGTH} characters`).optional(),
  /** "key": /metrics needs a key with the metrics (or admin) scope. */
  HEARTH_METRICS_AUTH: z.enum(["none", "key"]).default("none"),
  /** Which parts this process runs: api, invoker, or both. */
  HEARTH_ROLES: z.string().default("api,invoker").pipe(z.string().regex(/^(api|invoker)(,(api|invoker))*$/, "HEARTH_ROLES is a comma list of api and invoker")),
  /** Stable across restarts, so that an invoker finds and removes the containers of its earlier run. */
  HEARTH_INVOKER_ID: z.string().regex(/^[A-Za-z0-9_.-]+$/).default(os.hostname().replace(/[^A-Za-z0-9_.-]/g, "-")),
  /**
   * How containers reach Redis (as their own ACL users): the path, on the invoker's host, of Redis's
   * unix socket (bind-mounted into every container; the embedded Redis's by default), or an address
   * on a network the operator gives containers (then the socket is not used).
   */
  HEARTH_CONTAINER_REDIS_SOCKET: z.string().optional(),
  HEARTH_CONTAINER_REDIS_URL: z.string().optional(),
  /**
   * Where the invoker unpacks code packages (a folder per invoker id under it), mounted read-only into
   * containers by its path: the Docker engine must see it at the same path (the same host path mounted
   * into the invoker's container, when it runs in one). Unset: code-cache in HEARTH_DATA_DIR.
   */
  HEARTH_CODE_CACHE_DIR: z.string().optional(),
  /** The unpacked packages it keeps, all together (MiB); the least recently used that no container mounts go first. */
  HEARTH_CODE_CACHE_MB: z.coerce.number().int().positive().default(2_048),
  /** Docker networks a function may name in its `network` setting (comma list); without one it has none. `host` only when listed. */
  HEARTH_CONTAINER_NETWORKS: z
    .string()
    .default("")
    .pipe(z.string().regex(/^([A-Za-z0-9][A-Za-z0-9_.-]*(,[A-Za-z0-9][A-Za-z0-9_.-]*)*)?$/, "HEARTH_CONTAINER_NETWORKS is a comma list of Docker network names")),
  /** What one invoker starts on its Docker host, all functions together: containers, and their memory limits added up (MiB). */
  HEARTH_MAX_CONTAINERS: z.coerce.number().int().positive().default(256),
  HEARTH_MAX_MEMORY_MB: z.coerce.number().int().positive().default(Math.floor((os.totalmem() / MiB) * 0.75)),
  /**
   * Stem cells: prewarmed containers per runtime that a function's first request specializes
   * (`node=2,python=1`; a runtime not listed keeps none, an empty value none at all). Custom runtimes
   * keep none by default: they are the rare case, and each stem cell holds a container's room.
   */
  HEARTH_STEM_CELLS: z
    .string()
    .default("node=1,python=1,go=1,custom=0")
    .pipe(z.string().regex(/^((node|python|go|custom)=\d{1,3}(,(node|python|go|custom)=\d{1,3})*)?$/, "HEARTH_STEM_CELLS is a comma list of runtime=count (runtimes node, python, go, custom)")),
  HEARTH_IMAGE_NODE: z.string().default("hearth/runtime-node:latest"),
  HEARTH_IMAGE_PYTHON: z.string().default("hearth/runtime-python:latest"),
  HEARTH_IMAGE_GO: z.string().default("hearth/runtime-go:latest"),
  /** Runs a custom runtime: the package's own bootstrap. */
  HEARTH_IMAGE_CUSTOM: z.string().default("hearth/runtime-custom:latest"),
  /** Compiles Go source deploys (Yandex style) into a binary; see images/go/builder. */
  HEARTH_IMAGE_GO_BUILDER: z.string().default("hearth/builder-go:latest"),
  HEARTH_MAX_CODE_BYTES: z.coerce.number().int().positive().default(50 * MiB),
  HEARTH_MAX_PAYLOAD_BYTES: z.coerce.number().int().positive().default(6 * MiB),
  HEARTH_QUEUE_TIMEOUT_MS: z.coerce.number().int().positive().default(30_000),
  HEARTH_SHUTDOWN_TIMEOUT_MS: z.coerce.number().int().positive().default(60_000),
  /** An invoker silent for three heartbeats is taken for dead and its containers are released. */
  HEARTH_INVOKER_HEARTBEAT_MS: z.coerce.number().int().positive().default(5_000),
  /** How long the record of a finished async invocation (status, result) can be read. */
  HEARTH_INVOCATION_RETENTION_SECONDS: z.coerce.number().int().positive().default(86_400),
  /** A function's log lines (in Redis): how many are kept, for how long, of one invocation at most, and how long one line may be. */
  HEARTH_LOG_MAX_LINES: z.coerce.number().int().positive().default(5_000),
  HEARTH_LOG_RETENTION_SECONDS: z.coerce.number().int().positive().default(86_400),
  HEARTH_LOG_MAX_LINES_PER_INVOCATION: z.coerce.number().int().positive().default(1_000),
  HEARTH_LOG_MAX_LINE_LENGTH: z.coerce.number().int().positive().default(2_048),
  /** Invocations kept in a function's history (GET /system/functions/:name/invocations). */
  HEARTH_INVOCATION_HISTORY_SIZE: z.coerce.number().int().positive().default(1_000),
  /** Tries to deliver an async invocation's callback; between them 1, 2, 4, … times the delay. */
  HEARTH_CALLBACK_ATTEMPTS: z.coerce.number().int().positive().default(5),
  HEARTH_CALLBACK_RETRY_DELAY_MS: z.coerce.number().int().positive().default(1_000),
  HEARTH_CALLBACK_TIMEOUT_MS: z.coerce.number().int().positive().default(10_000),
  /** Host names, *.domain patterns and CIDRs callbacks may reach even where the default refuses (loopback, private, …). */
  HEARTH_CALLBACK_ALLOW: z.string().default(""),
  /** Functions Hearth holds at most; a deploy of one more answers 403 QuotaExceeded. */
  HEARTH_MAX_FUNCTIONS: z.coerce.number().int().positive().default(1_000),
  /** Code packages (all functions together) are kept in Redis's memory: their total size at most. */
  HEARTH_MAX_TOTAL_CODE_BYTES: z.coerce.number().int().positive().default(2 * 1024 * MiB),
  /**
   * Containers all functions together keep warm (the sum of their `minWarm`): kept-warm containers are
   * never evicted for another function's work, so this bounds what deploys can hold of the hosts. A
   * deploy past it answers 403 QuotaExceeded.
   */
  HEARTH_MAX_TOTAL_MIN_WARM: z.coerce.number().int().min(0).default(32),
  /** A stream entry pending this long without its invocation settling is claimed by another process (its reader may be dead). */
  HEARTH_STREAM_CLAIM_IDLE_MS: z.coerce.number().int().positive().default(60_000),
});

export interface HearthConfig {
  port: number;
  host: string;
  /** Unset: the embedded redis-server. */
  redis?: RedisTarget;
  /** Replicas that must have an async invocation before its 202, and how long to wait for them. */
  asyncReplicas: { count: number; timeoutMs: number };
  dataDir: string;
  adminToken?: string;
  metricsAuth: "none" | "key";
  roles: { api: boolean; invoker: boolean };
  invokerId: string;
  containerRedisSocket?: string;
  containerRedisUrl?: string;
  /** Networks functions may name besides `none`. */
  containerNetworks: string[];
  hostLimits: HostLimits;
  codeCache: { directory: string; maxBytes: number };
  images: Record<Runtime, string>;
  /** Stem cells this invoker keeps ready, per runtime. */
  stemCells: Record<Runtime, number>;
  goBuilderImage: string;
  maxCodeBytes: number;
  maxPayloadBytes: number;
  queueTimeoutMs: number;
  shutdownTimeoutMs: number;
  invokerHeartbeatMs: number;
  invocationRetentionMs: number;
  logs: LogLimits;
  callbacks: CallbackPolicy;
  streamClaimIdleMs: number;
  quotas: Quotas;
}

export interface CallbackPolicy {
  attempts: number;
  retryDelayMs: number;
  timeoutMs: number;
  /** Host names, `*.domain` patterns, addresses and CIDRs callbacks may reach whatever their range. */
  allow: string[];
}

export interface Quotas {
  maxFunctions: number;
  maxTotalCodeBytes: number;
  maxTotalMinWarm: number;
}

export function configFromEnv(env: NodeJS.ProcessEnv): HearthConfig {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    throw new Error(`invalid configuration: ${parsed.error.issues.map((issue) => `${issue.path.join(".")}: ${issue.message}`).join("; ")}`);
  }
  const e = parsed.data;
  const roles = e.HEARTH_ROLES.split(",");
  return {
    port: e.PORT,
    host: e.HEARTH_HOST,
    redis: redisTarget(e),
    asyncReplicas: { count: e.HEARTH_ASYNC_REPLICAS ?? (e.REDIS_SENTINELS || e.REDIS_CLUSTER_NODES ? 1 : 0), timeoutMs: e.HEARTH_ASYNC_REPLICA_TIMEOUT_MS },
    dataDir: e.HEARTH_DATA_DIR,
    adminToken: e.HEARTH_ADMIN_TOKEN,
    metricsAuth: e.HEARTH_METRICS_AUTH,
    roles: { api: roles.includes("api"), invoker: roles.includes("invoker") },
    invokerId: e.HEARTH_INVOKER_ID,
    containerRedisSocket: e.HEARTH_CONTAINER_REDIS_SOCKET,
    containerRedisUrl: e.HEARTH_CONTAINER_REDIS_URL,
    containerNetworks: e.HEARTH_CONTAINER_NETWORKS ? e.HEARTH_CONTAINER_NETWORKS.split(",") : [],
    hostLimits: { maxContainers: e.HEARTH_MAX_CONTAINERS, maxMemoryMb: e.HEARTH_MAX_MEMORY_MB },
    // Absolute: Docker mounts host paths only.
    codeCache: { directory: path.resolve(e.HEARTH_CODE_CACHE_DIR ?? path.join(e.HEARTH_DATA_DIR, "code-cache")), maxBytes: e.HEARTH_CODE_CACHE_MB * MiB },
    images: { node: e.HEARTH_IMAGE_NODE, python: e.HEARTH_IMAGE_PYTHON, go: e.HEARTH_IMAGE_GO, custom: e.HEARTH_IMAGE_CUSTOM },
    stemCells: parseStemCells(e.HEARTH_STEM_CELLS),
    goBuilderImage: e.HEARTH_IMAGE_GO_BUILDER,
    maxCodeBytes: e.HEARTH_MAX_CODE_BYTES,
    maxPayloadBytes: e.HEARTH_MAX_PAYLOAD_BYTES,
    queueTimeoutMs: e.HEARTH_QUEUE_TIMEOUT_MS,
    shutdownTimeoutMs: e.HEARTH_SHUTDOWN_TIMEOUT_MS,
    invokerHeartbeatMs: e.HEARTH_INVOKER_HEARTBEAT_MS,
    invocationRetentionMs: e.HEARTH_INVOCATION_RETENTION_SECONDS * 1000,
    logs: {
      maxLines: e.HEARTH_LOG_MAX_LINES,
      retentionMs: e.HEARTH_LOG_RETENTION_SECONDS * 1000,
      maxLinesPerInvocation: e.HEARTH_LOG_MAX_LINES_PER_INVOCATION,
      maxLineLength: e.HEARTH_LOG_MAX_LINE_LENGTH,
      historySize: e.HEARTH_INVOCATION_HISTORY_SIZE,
    },
    callbacks: {
      attempts: e.HEARTH_CALLBACK_ATTEMPTS,
      retryDelayMs: e.HEARTH_CALLBACK_RETRY_DELAY_MS,
      timeoutMs: e.HEARTH_CALLBACK_TIMEOUT_MS,
      allow: e.HEARTH_CALLBACK_ALLOW.split(",").map((entry) => entry.trim()).filter((entry) => entry !== ""),
    },
    streamClaimIdleMs: e.HEARTH_STREAM_CLAIM_IDLE_MS,
    quotas: { maxFunctions: e.HEARTH_MAX_FUNCTIONS, maxTotalCodeBytes: e.HEARTH_MAX_TOTAL_CODE_BYTES, maxTotalMinWarm: e.HEARTH_MAX_TOTAL_MIN_WARM },
  };
}

function redisTarget(e: z.infer<typeof envSchema>): RedisTarget | undefined {
  const credentials = { username: e.REDIS_USERNAME, password: e.REDIS_PASSWORD };
  if (e.REDIS_SENTINELS && e.REDIS_CLUSTER_NODES) throw new Error("invalid configuration: REDIS_SENTINELS and REDIS_CLUSTER_NODES exclude each other (a Cluster fails over by itself)");
  if (e.REDIS_CLUSTER_NODES) {
    if (e.REDIS_URL) throw new Error("invalid configuration: REDIS_URL and REDIS_CLUSTER_NODES exclude each other");
    if (e.REDIS_SENTINEL_MASTER || e.REDIS_SENTINEL_PASSWORD) throw new Error("invalid configuration: REDIS_SENTINEL_MASTER and REDIS_SENTINEL_PASSWORD go with REDIS_SENTINELS");
    // Containers reach each master through their invoker's sockets; one address on their network would not do.
    if (e.HEARTH_CONTAINER_REDIS_URL) throw new Error("invalid configuration: with REDIS_CLUSTER_NODES, containers reach Redis through their invoker's sockets, not HEARTH_CONTAINER_REDIS_URL");
    return { cluster: { nodes: addresses(e.REDIS_CLUSTER_NODES), ...credentials } };
  }
  if (!e.REDIS_SENTINELS) {
    if (e.REDIS_SENTINEL_MASTER || e.REDIS_USERNAME || e.REDIS_PASSWORD || e.REDIS_SENTINEL_PASSWORD) {
      throw new Error("invalid configuration: REDIS_SENTINEL_MASTER, REDIS_USERNAME, REDIS_PASSWORD and REDIS_SENTINEL_PASSWORD go with REDIS_SENTINELS or REDIS_CLUSTER_NODES (REDIS_URL carries its own credentials)");
    }
    return e.REDIS_URL ? { url: e.REDIS_URL } : undefined;
  }
  if (e.REDIS_URL) throw new Error("invalid configuration: REDIS_URL and REDIS_SENTINELS exclude each other");
  // Containers follow the master through their invoker's socket; an address on their network would not.
  if (e.HEARTH_CONTAINER_REDIS_URL) throw new Error("invalid configuration: with REDIS_SENTINELS, containers reach Redis through their invoker's socket (HEARTH_CONTAINER_REDIS_SOCKET), not HEARTH_CONTAINER_REDIS_URL");
  if (!e.REDIS_SENTINEL_MASTER) throw new Error("invalid configuration: REDIS_SENTINELS needs REDIS_SENTINEL_MASTER, the master's name");
  return { sentinel: { sentinels: addresses(e.REDIS_SENTINELS), name: e.REDIS_SENTINEL_MASTER, ...credentials, sentinelPassword: e.REDIS_SENTINEL_PASSWORD } };
}

/** `host:port,…` (already checked by the schema). */
function addresses(list: string): Array<{ host: string; port: number }> {
  return list.split(",").map((entry) => {
    const at = entry.lastIndexOf(":");
    return { host: entry.slice(0, at), port: Number(entry.slice(at + 1)) };
  });
}

/** `node=2,python=1` (already checked by the schema) → a count for every runtime, 0 where not listed. */
function parseStemCells(value: string): Record<Runtime, number> {
  const counts: Record<Runtime, number> = { node: 0, python: 0, go: 0, custom: 0 };
  for (const entry of value ? value.split(",") : []) {
    const [runtime, count] = entry.split("=") as [Runtime, string];
    counts[runtime] = Number(count);
  }
  return counts;
}
