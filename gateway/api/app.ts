import express from "express";
import type { RedisClient } from "../redis/connections.js";
import type { Quotas } from "../config.js";
import type { AsyncInvocations } from "../async/async-invocations.js";
import type { Authenticator } from "../auth/authenticator.js";
import type { FunctionCache } from "../functions/function-cache.js";
import type { GoBuilder } from "../functions/runtime-packages.js";
import type { Invocations } from "../invocation/invocations.js";
import type { Logger } from "../logger.js";
import type { Metrics } from "../metrics/metrics.js";
import { asyncInvokeRoutes, invocationRoutes } from "./async-routes.js";
import { AccessControl, readOrAdmin } from "./auth.js";
import { requireHost } from "./client-errors.js";
import { deadLettersRoutes } from "./dead-letters-routes.js";
import { errorHandler, notFound, sendError } from "./errors.js";
import { functionsRoutes } from "./functions-routes.js";
import { invokeRoutes, proxyRoutes } from "./invoke-routes.js";
import { keysRoutes } from "./keys-routes.js";
import { functionLogsRoutes, invocationLogsRoutes } from "./logs-routes.js";
import { LogFollowers } from "../logs/function-logs.js";
import { streamsRoutes } from "./streams-routes.js";

export interface ApiDependencies {
  redis: RedisClient;
  invocations: Invocations;
  asyncInvocations: AsyncInvocations;
  functions: FunctionCache;
  authenticator: Authenticator;
  /** "key": /metrics needs a key with the metrics scope. */
  metricsAuth: "none" | "key";
  /** How long the dead letters of a deleted function are kept. */
  invocationRetentionMs: number;
  metrics: Metrics;
  logger: Logger;
  maxCodeBytes: number;
  /** How many functions, and how many bytes of code, Hearth holds at most. */
  quotas: Quotas;
  /** Docker networks a function may name besides `none` (HEARTH_CONTAINER_NETWORKS). */
  containerNetworks: string[];
  /** Compiles Go source deploys. */
  buildGo: GoBuilder;
  maxPayloadBytes: number;
  /** Resolves when everything this process depends on answers; rejects with what does not. */
  checkHealth(): Promise<void>;
}

/** Log followers one process serves at once (each holds a Redis connection). */
const MAX_LOG_FOLLOWERS = 100;

export function createApp(deps: ApiDependencies): express.Express {
  const app = express();
  app.disable("x-powered-by");
  // express hashes every response body (SHA-1) for an ETag; invocation results are POST answers that
  // nobody revalidates, so that is CPU on every request for nothing (~10 µs here, see BENCHMARKS.md).
  app.set("etag", false);
  app.use(requireHost);

  app.get("/healthz", async (_req, res) => {
    try {
      await deps.checkHealth();
      res.json({ status: "ok" });
    } catch (error) {
      sendError(res, 503, "Unhealthy", (error as Error).message);
    }
  });

  const access = new AccessControl(deps.authenticator, deps.functions);
  if (deps.metricsAuth === "key") app.use("/metrics", access.requireScope(() => "metrics"));
  app.get("/metrics", async (_req, res) => {
    res.type(deps.metrics.registry.contentType).send(await deps.metrics.registry.metrics());
  });

  // Keys are admin business whatever the method (listing them shows who may do what).
  app.use("/system/keys", access.requireScope(() => "admin"), keysRoutes(deps.redis, deps.authenticator));
  app.use("/system", access.requireScope(readOrAdmin));
  app.use("/system/functions/:name/dead-letters", deadLettersRoutes(deps.redis, deps.functions));
  app.use("/system/functions/:name/streams", streamsRoutes(deps.redis));
  app.use("/system/functions", functionLogsRoutes(deps.redis, new LogFollowers(deps.redis, MAX_LOG_FOLLOWERS)));
  app.use("/system/functions", functionsRoutes(deps.redis, deps.quotas, deps.maxCodeBytes, deps.buildGo, deps.invocationRetentionMs, deps.containerNetworks));
  app.use("/function", invokeRoutes(deps.invocations, deps.asyncInvocations, deps.maxPayloadBytes, access.invoke));
  app.use("/async-function", asyncInvokeRoutes(deps.asyncInvocations, deps.maxPayloadBytes, access.invoke));
  app.use("/invocations", invocationLogsRoutes(deps.redis, access.invocation));
  app.use("/invocations", invocationRoutes(deps.asyncInvocations, access.invocation));
  app.use("/http", proxyRoutes(deps.invocations, deps.maxPayloadBytes, access.invoke));
  app.use(notFound);
  app.use(errorHandler(deps.logger));
  return app;
}
