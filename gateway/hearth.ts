// The composition root: one Hearth process with the roles its config names (API, invoker or both).

import { randomUUID } from "node:crypto";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import Docker from "dockerode";
import { Cluster } from "ioredis";
import type { RedisClient } from "./redis/connections.js";
import { createApp } from "./api/app.js";
import { createApiServer } from "./api/client-errors.js";
import { resolveAdminToken } from "./auth/admin-token.js";
import { Authenticator } from "./auth/authenticator.js";
import { AsyncInvocations } from "./async/async-invocations.js";
import { CallbackDestinations } from "./async/callback-destinations.js";
import { deliverDueCallbacks } from "./async/callback-sender.js";
import { DueTimers } from "./async/due-timers.js";
import { promoteDueRetries } from "./async/retry-scheduler.js";
import { StreamTriggers } from "./async/stream-triggers.js";
import { compileGoSource } from "./functions/go-build.js";
import type { HearthConfig } from "./config.js";
import { FunctionCache } from "./functions/function-cache.js";
import { readPoolStatus } from "./functions/registry.js";
import { Invocations } from "./invocation/invocations.js";
import { ReplyRouter } from "./invocation/reply-router.js";
import { ContainerUsage } from "./invoker/container-usage.js";
import { CodeCache } from "./invoker/code-cache.js";
import { DockerBackend, LABELS } from "./invoker/docker-backend.js";
import { HostCapacity } from "./invoker/host-capacity.js";
import { Invoker } from "./invoker/invoker.js";
import type { Logger } from "./logger.js";
import { Metrics } from "./metrics/metrics.js";
import { EventBus } from "./protocol/event-bus.js";
import { functionKeys, FUNCTIONS_INDEX, INVOKER_BEATS } from "./protocol/keys.js";
import { loadScripts } from "./protocol/all-scripts.js";
import { connectRedis, connectedNode, describeTarget, FAIL_FAST, isRedisUnavailable, onMasterChange, ready, withoutCredentials, type RedisTarget } from "./redis/connections.js";
import { startEmbeddedRedis, type EmbeddedRedis } from "./redis/embedded-redis.js";
import { MasterSocket } from "./redis/master-socket.js";
import { ClusterSockets } from "./redis/cluster-sockets.js";
import { ReplicatedWrites } from "./redis/replicated-writes.js";
import { HearthError } from "./errors.js";

/** How often, and how long, a master change's catch-up is tried again while Redis cannot take it. */
const CATCH_UP_RETRY_MS = 500;
const CATCH_UP_DEADLINE_MS = 30_000;

/** How often each API process looks for due retries, callbacks and stream subscriptions it heard no event for. */
const DUE_WORK_SWEEP_MS = 30_000;

export interface Hearth {
  /** Base URL of the API, when this process serves it. */
  url?: string;
  /** Where its Redis is, without credentials. */
  redis: string;
  /** Where the generated admin token is kept, when Hearth made one (no HEARTH_ADMIN_TOKEN). */
  adminTokenFile?: string;
  metrics: Metrics;
  /** Stops taking requests, finishes the ones in flight, stops its containers, then Redis if it owns it. */
  stop(): Promise<void>;
}

export async function startHearth(config: HearthConfig, logger: Logger): Promise<Hearth> {
  // Teardown steps in the order they were set up; run in reverse on stop, or on a failed start so
  // that nothing (an embedded redis-server above all) outlives it.
  const teardown: Array<() => Promise<void>> = [];
  // A step that fails (Redis away during a failover) is logged and the next ones still run: a
  // failed step must not leave containers, connections or an embedded redis-server behind.
  const stop = async (): Promise<void> => {
    for (const step of teardown.splice(0).reverse()) await step().catch((err: unknown) => logger.error({ err }, "a step of stopping failed"));
  };
  try {
    // Settled before anything starts: a gateway that could not check keys must not start at all.
    const adminToken = config.roles.api ? await resolveAdminToken(config) : undefined;
    const embedded: EmbeddedRedis | undefined = config.redis ? undefined : await startEmbeddedRedis(`${config.dataDir}/redis`);
    if (embedded) teardown.push(() => embedded.stop());
    const redis: RedisTarget = config.redis ?? { url: embedded!.url };
    // Fails fast while Redis is away: HTTP callers hear 503 at once; the invoker's sweeps catch up after.
    const commands = connectRedis(redis, "hearth-commands", FAIL_FAST);
    teardown.push(() => quit(commands));
    await ready(commands);
    await loadScripts(commands);
    // A failover: the new master has no script loaded (nor, below, the containers' users).
    const masterChanged: Array<() => Promise<void>> = [() => catchUp(commands, () => loadScripts(commands))];
    onMasterChange(commands, (masters) => {
      logger.warn({ masters }, "the Redis masters changed (a failover, or masters added or removed); catching up with them");
      for (const step of masterChanged) step().catch((err: unknown) => logger.error({ err }, "catching up with the new Redis master failed"));
    });
    const events = new EventBus(connectRedis(redis, "hearth-events"), logger);
    teardown.push(() => events.stop());
    await events.start();
    const metrics = new Metrics();
    // In every process: a deleted function's series go with it (cold starts are the invoker's).
    events.on((event) => {
      if (event.type === "deleted") metrics.forgetFunction(event.function).catch((err: unknown) => logger.warn({ err }, "dropping a deleted function's metrics failed"));
    });
    metrics.observePools(async () => {
      const names = await commands.smembers(FUNCTIONS_INDEX);
      return Promise.all(names.map(async (name) => ({ function: name, ...(await readPoolStatus(commands, name)) })));
    });
    metrics.observeInvokers(async () => {
      const now = Date.now();
      const [alive, lost] = await Promise.all([commands.zcount(INVOKER_BEATS, now, "+inf"), commands.zcount(INVOKER_BEATS, "-inf", `(${now}`)]);
      return { alive, lost };
    });

    // The engine DOCKER_HOST names (with DOCKER_TLS_VERIFY, DOCKER_CERT_PATH), as for the docker command; else the local socket.
    const docker = new Docker();
    let invoker: Invoker | undefined;
    if (config.roles.invoker) {
      const masterSocket = "sentinel" in redis ? await MasterSocket.listen(path.resolve(config.containerRedisSocket ?? `${config.dataDir}/master-socket/redis.sock`), connectedNode(commands)!) : undefined;
      if (masterSocket) teardown.push(() => masterSocket.close());
      // The sockets go in the directory of HEARTH_CONTAINER_REDIS_SOCKET (the file name is not used).
      const clusterSockets = commands instanceof Cluster ? await ClusterSockets.listen(path.dirname(path.resolve(config.containerRedisSocket ?? `${config.dataDir}/cluster-sockets/redis.sock`)), commands, logger) : undefined;
      if (clusterSockets) teardown.push(() => clusterSockets.close());
      const backend = new DockerBackend(docker, {
        invokerId: config.invokerId,
        images: config.images,
        redis: clusterSockets ? { slotsMap: clusterSockets.mapPath } : containerRedis(config, embedded, masterSocket),
        allowedNetworks: config.containerNetworks,
        invocationRetentionMs: config.invocationRetentionMs,
        logs: config.logs,
        codeCache: new CodeCache(path.join(config.codeCache.directory, config.invokerId), config.codeCache.maxBytes, logger.child({ component: "code-cache" }), metrics),
        readCode: (fn, codeSha) => commands.getBuffer(functionKeys(fn).code(codeSha)),
      });
      const capacity = new HostCapacity(config.hostLimits);
      metrics.observeHost(capacity);
      const started = new Invoker(commands, backend, metrics, logger.child({ component: "invoker" }), config.invokerId, config.invokerHeartbeatMs, config.invocationRetentionMs, capacity, config.stemCells);
      teardown.push(() => started.stop(config.shutdownTimeoutMs));
      const usage = new ContainerUsage(docker, () => started.runningContainers());
      metrics.observeContainerUsage(() => usage.read());
      events.on((event) => {
        if (event.type === "deleted") usage.forgetFunction(event.function);
      });
      await started.start(events);
      invoker = started;
      masterChanged.push(async () => {
        // Containers reach the new master once it has their users, and lose the old one now.
        // Tried again while the cluster answers it is down; the sockets wait for its last try.
        const restored = catchUp(commands, () => started.onMasterChange());
        masterSocket?.retarget(restored.catch(() => undefined).then(() => connectedNode(commands)));
        await Promise.all([restored, clusterSockets?.follow(restored)]);
      });
    }

    let server: Server | undefined;
    if (config.roles.api) {
      const lostReplies = !("url" in redis) ? new HearthError(503, "Hearth.Unavailable", "the connection to the Redis master was lost while the request was in flight (a failover?): it may or may not have run") : undefined;
      const replies = new ReplyRouter(connectRedis(redis, "hearth-replies"), randomUUID(), logger, lostReplies);
      teardown.push(() => replies.stop());
      replies.start();
      const functions = new FunctionCache(commands);
      const callbackDestinations = new CallbackDestinations(config.callbacks.allow, config.host);
      const authenticator = new Authenticator(commands, adminToken!.token);
      // Retries and callbacks come due in every API process; their scripts hand each to one of them.
      const dueWork = [
        new DueTimers(promoteDueRetries(commands), logger),
        new DueTimers(deliverDueCallbacks(commands, config.callbacks, callbackDestinations, logger.child({ component: "callbacks" })), logger),
      ];
      for (const timers of dueWork) {
        teardown.push(() => timers.stop());
        timers.start(() => commands.smembers(FUNCTIONS_INDEX), DUE_WORK_SWEEP_MS);
      }
      const acceptConnection = config.asyncReplicas.count > 0 ? connectRedis(redis, "hearth-async-accepts", FAIL_FAST) : commands;
      if (acceptConnection !== commands) {
        teardown.push(() => quit(acceptConnection));
        await ready(acceptConnection);
      }
      const accepts = new ReplicatedWrites(acceptConnection, config.asyncReplicas.count, config.asyncReplicas.timeoutMs);
      const asyncInvocations = new AsyncInvocations(commands, functions, config.invocationRetentionMs, callbackDestinations, accepts);
      const streamTriggers = new StreamTriggers(commands, asyncInvocations, { redis, consumer: config.invokerId, claimIdleMs: config.streamClaimIdleMs }, logger.child({ component: "streams" }));
      teardown.push(() => streamTriggers.stop());
      streamTriggers.start(DUE_WORK_SWEEP_MS);
      events.on((event) => {
        if (event.type === "deployed" || event.type === "deleted") functions.invalidate(event.function);
        if (event.type === "due") for (const timers of dueWork) timers.wake(event.function, event.at);
        if (event.type === "streams" || event.type === "deleted") streamTriggers.refresh(event.function);
        if (event.type === "key-revoked") authenticator.forgetAll();
      });
      const app = createApp({
        redis: commands,
        invocations: new Invocations(commands, functions, replies, metrics, config.queueTimeoutMs),
        asyncInvocations,
        functions,
        authenticator,
        metricsAuth: config.metricsAuth,
        invocationRetentionMs: config.invocationRetentionMs,
        metrics,
        logger,
        maxCodeBytes: config.maxCodeBytes,
        quotas: config.quotas,
        containerNetworks: config.containerNetworks,
        // Labelled with the invoker id too, so that an invoker's start-up sweep removes builds a crash left.
        buildGo: (source, { handler, initializer, preStop }) =>
          compileGoSource(docker, config.goBuilderImage, source, handler, { labels: { [LABELS.invoker]: config.invokerId }, hooks: { initializer, preStop } }),
        maxPayloadBytes: config.maxPayloadBytes,
        checkHealth: async () => {
          await commands.ping();
          if (invoker) await docker.ping();
        },
      });
      const listening = await new Promise<Server>((resolve, reject) => {
        const created = createApiServer(app, logger);
        created.once("error", reject);
        created.listen(config.port, config.host, () => resolve(created));
      });
      // Stopping starts here: no new requests, the ones in flight answered.
      teardown.push(() => closeServer(listening, config.shutdownTimeoutMs));
      server = listening;
    }

    const address = server?.address() as AddressInfo | undefined;
    return { url: address ? `http://${config.host}:${address.port}` : undefined, redis: describeTarget(redis), adminTokenFile: adminToken?.file, metrics, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/**
 * How function containers reach Redis: an address on their network if given, else a unix socket:
 * with Sentinel the invoker's own, which follows the master; else Redis's.
 */
function containerRedis(config: HearthConfig, embedded: EmbeddedRedis | undefined, masterSocket: MasterSocket | undefined): { socketPath: string } | { url: string } {
  if (masterSocket) return { socketPath: masterSocket.path };
  if (config.containerRedisUrl) {
    // Containers log in as their own users: Hearth's credentials, if the URL has them, stay here.
    return { url: withoutCredentials(config.containerRedisUrl) };
  }
  const socketPath = config.containerRedisSocket ?? embedded?.socketPath;
  if (!socketPath) {
    throw new Error("invalid configuration: with REDIS_URL, an invoker needs HEARTH_CONTAINER_REDIS_SOCKET (Redis's unix socket on this host) or HEARTH_CONTAINER_REDIS_URL (its address on the containers' network)");
  }
  return { socketPath };
}

/** Stops accepting connections and waits (bounded) for the requests in flight to be answered. */
async function closeServer(server: Server, timeoutMs: number): Promise<void> {
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  // Keep-alive connections become idle once their response is sent; close them as they do.
  const sweeper = setInterval(() => server.closeIdleConnections(), 100);
  const timer = setTimeout(() => server.closeAllConnections(), timeoutMs);
  await closed;
  clearInterval(sweeper);
  clearTimeout(timer);
}

/**
 * Runs a step of catching up with a new master, again while Redis answers it is unavailable: a Cluster's
 * map of slots names the promoted replica before every master counts the cluster whole again, and until
 * then each command gets CLUSTERDOWN (a step that failed so would leave the containers' users unmade
 * and queued work unseen until the next failover).
 */
async function catchUp(commands: RedisClient, step: () => Promise<void>): Promise<void> {
  const until = Date.now() + CATCH_UP_DEADLINE_MS;
  for (;;) {
    try {
      return await step();
    } catch (error) {
      if (!isRedisUnavailable(error) || commands.status === "end" || Date.now() > until) throw error;
      await new Promise((resolve) => setTimeout(resolve, CATCH_UP_RETRY_MS));
    }
  }
}

async function quit(redis: RedisClient): Promise<void> {
  await redis.quit().catch(() => redis.disconnect());
}
