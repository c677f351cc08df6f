// Entry point of the runtime adapter, PID 1's child in every function container (see images/). It
// runs as root with only the capabilities it needs (to start the runtime under another uid and to
// signal it), so that nothing it holds — its Redis user's password above all — is readable by the
// runtime's uid: not its environment, not PID 1's (docker-init, root too), not a file.

import { Redis } from "ioredis";
import { createAdapterLogger } from "./adapter-log.js";
import { ContainerWorker } from "./container-worker.js";
import { RedisNodes, type Connect } from "./redis-nodes.js";
import { awaitSpecialization } from "./stem-cell.js";

// Parsed by hand: the adapter starts in every cold start, and a validation library costs ~100 ms to load.
function setting(name: string, fallback?: string): string {
  const value = process.env[name] ?? fallback;
  if (!value) throw new Error(`${name} is not set: the adapter is started by a Hearth invoker`);
  return value;
}

function integer(name: string, fallback?: string): number {
  const value = Number(setting(name, fallback));
  if (!Number.isSafeInteger(value)) throw new Error(`${name} must be an integer`);
  return value;
}

/** Set on a stem cell (gateway/invoker/stem-cells.ts): its function, and its Redis user, come later, through its stem key. */
const STEM_ID = process.env.HEARTH_STEM_ID;

const env = {
  /**
   * The container's own Redis user (made by its invoker; a stem cell's first), over a unix socket or, on
   * a network, a URL; with a Redis Cluster, the map of its invoker's sockets (one per master).
   */
  HEARTH_REDIS_SOCKET: process.env.HEARTH_REDIS_SOCKET,
  HEARTH_REDIS_URL: process.env.HEARTH_REDIS_URL,
  HEARTH_REDIS_SLOTS: process.env.HEARTH_REDIS_SLOTS,
  HEARTH_REDIS_USER: setting("HEARTH_REDIS_USER"),
  HEARTH_REDIS_PASSWORD: setting("HEARTH_REDIS_PASSWORD"),
  HEARTH_RUNTIME_UID: integer("HEARTH_RUNTIME_UID", "10001"),
  HEARTH_INVOKER_ID: setting("HEARTH_INVOKER_ID"),
  HEARTH_TASK_ROOT: setting("HEARTH_TASK_ROOT", "/var/task"),
  HEARTH_RUNTIME_BOOTSTRAP: setting("HEARTH_RUNTIME_BOOTSTRAP", "/opt/hearth/runtime/bootstrap"),
  HEARTH_REGION: setting("HEARTH_REGION", "local"),
  HEARTH_INVOCATION_RETENTION_MS: integer("HEARTH_INVOCATION_RETENTION_MS"),
  HEARTH_LOG_MAX_LINES: integer("HEARTH_LOG_MAX_LINES", "5000"),
  HEARTH_LOG_RETENTION_MS: integer("HEARTH_LOG_RETENTION_MS", "86400000"),
  HEARTH_LOG_MAX_LINES_PER_INVOCATION: integer("HEARTH_LOG_MAX_LINES_PER_INVOCATION", "1000"),
  HEARTH_LOG_MAX_LINE_LENGTH: integer("HEARTH_LOG_MAX_LINE_LENGTH", "2048"),
  HEARTH_INVOCATION_HISTORY_SIZE: integer("HEARTH_INVOCATION_HISTORY_SIZE", "1000"),
};

/** Who the container serves: from its environment, or for a stem cell from its hand-over. */
interface Identity {
  function: string;
  version: number;
  containerId: string;
  createdAt: number;
  /** When it began to be this function's container: a stem cell's process started long before. */
  startedAt: number;
}

function identityFromEnv(): Identity {
  return {
    function: setting("HEARTH_FUNCTION"),
    version: integer("HEARTH_VERSION"),
    containerId: setting("HEARTH_CONTAINER_ID"),
    createdAt: integer("HEARTH_CREATED_AT"),
    startedAt: Math.round(performance.timeOrigin),
  };
}

const envIdentity = STEM_ID ? undefined : identityFromEnv();
const logger = createAdapterLogger("hearth-adapter", envIdentity ? { function: envIdentity.function, container: envIdentity.containerId } : { stemCell: STEM_ID });

if (process.getuid?.() === env.HEARTH_RUNTIME_UID) {
  throw new Error(`the adapter must not run as the runtime's uid ${env.HEARTH_RUNTIME_UID}: user code could read its credentials`);
}
if (!env.HEARTH_REDIS_SOCKET && !env.HEARTH_REDIS_URL && !env.HEARTH_REDIS_SLOTS) throw new Error("HEARTH_REDIS_SOCKET, HEARTH_REDIS_URL or HEARTH_REDIS_SLOTS is not set: the adapter is started by a Hearth invoker");

// No reconnects: a container that loses Redis may have lost a request in flight, so it exits and the
// invoker answers that request's caller from the container's running list. No ready check: its INFO
// is a command the container's Redis user may not run.
const options = {
  connectionName: `hearth-adapter:${envIdentity?.containerId ?? `stem-${STEM_ID}`}`,
  enableReadyCheck: false,
  retryStrategy: () => null,
  maxRetriesPerRequest: 0,
};
const connect: Connect = (target, credentials) => {
  const redis = target.startsWith("/") ? new Redis({ path: target, ...options, ...credentials }) : new Redis(target, { ...options, ...credentials });
  redis.on("end", () => {
    logger.error("lost the Redis connection");
    process.exit(1);
  });
  return redis;
};
const credentials = { username: env.HEARTH_REDIS_USER, password: env.HEARTH_REDIS_PASSWORD };
const redis = env.HEARTH_REDIS_SLOTS
  ? RedisNodes.cluster(env.HEARTH_REDIS_SLOTS, connect, credentials)
  : RedisNodes.single(env.HEARTH_REDIS_SOCKET ?? env.HEARTH_REDIS_URL!, connect, credentials);

async function specialize(stemId: string): Promise<Identity> {
  const handedOver = await awaitSpecialization(redis, stemId);
  const { function: fn, version, containerId, createdAt } = handedOver;
  logger.info({ function: fn, container: containerId }, "stem cell specialized");
  return { function: fn, version, containerId, createdAt, startedAt: Date.now() };
}

async function serve(identity: Identity): Promise<void> {
  const worker = new ContainerWorker(
    redis,
    {
      function: identity.function,
      version: identity.version,
      containerId: identity.containerId,
      invokerId: env.HEARTH_INVOKER_ID,
      createdAt: identity.createdAt,
      startedAt: identity.startedAt,
      taskRoot: env.HEARTH_TASK_ROOT,
      bootstrap: env.HEARTH_RUNTIME_BOOTSTRAP,
      region: env.HEARTH_REGION,
      retentionMs: env.HEARTH_INVOCATION_RETENTION_MS,
      runtimeUid: env.HEARTH_RUNTIME_UID,
      logs: {
        maxLines: env.HEARTH_LOG_MAX_LINES,
        retentionMs: env.HEARTH_LOG_RETENTION_MS,
        maxLinesPerInvocation: env.HEARTH_LOG_MAX_LINES_PER_INVOCATION,
        maxLineLength: env.HEARTH_LOG_MAX_LINE_LENGTH,
        historySize: env.HEARTH_INVOCATION_HISTORY_SIZE,
      },
    },
    envIdentity ? logger : createAdapterLogger("hearth-adapter", { function: identity.function, container: identity.containerId }),
  );
  await worker.run();
}

(envIdentity ? serve(envIdentity) : specialize(STEM_ID!).then(serve)).then(
  () => process.exit(0),
  (err: unknown) => {
    logger.error({ err }, "adapter failed");
    process.exit(1);
  },
);
