// Entry point of the runtime adapter, PID 1's child in every function container (see images/).

import { Redis } from "ioredis";
import { z } from "zod";
import { createLogger } from "../logger.js";
import { ContainerWorker } from "./container-worker.js";

const envSchema = z.object({
  HEARTH_REDIS_URL: z.string().min(1),
  HEARTH_FUNCTION: z.string().min(1),
  HEARTH_VERSION: z.coerce.number().int().positive(),
  HEARTH_CODE_SHA: z.string().regex(/^[0-9a-f]{64}$/),
  HEARTH_CONTAINER_ID: z.string().min(1),
  HEARTH_INVOKER_ID: z.string().min(1),
  HEARTH_CREATED_AT: z.coerce.number().int(),
  HEARTH_TASK_ROOT: z.string().default("/var/task"),
  HEARTH_RUNTIME_BOOTSTRAP: z.string().default("/opt/hearth/runtime/bootstrap"),
  HEARTH_REGION: z.string().default("local"),
});

const env = envSchema.parse(process.env);
const logger = createLogger("hearth-adapter").child({ function: env.HEARTH_FUNCTION, container: env.HEARTH_CONTAINER_ID });

// No reconnects: a container that loses Redis may have lost a request in flight, so it exits and the
// invoker answers that request's caller from the container's running list.
const redis = new Redis(env.HEARTH_REDIS_URL, {
  connectionName: `hearth-adapter:${env.HEARTH_CONTAINER_ID}`,
  retryStrategy: () => null,
  maxRetriesPerRequest: 0,
});
redis.on("end", () => {
  logger.error("lost the Redis connection");
  process.exit(1);
});

const worker = new ContainerWorker(
  redis,
  {
    function: env.HEARTH_FUNCTION,
    version: env.HEARTH_VERSION,
    codeSha: env.HEARTH_CODE_SHA,
    containerId: env.HEARTH_CONTAINER_ID,
    invokerId: env.HEARTH_INVOKER_ID,
    createdAt: env.HEARTH_CREATED_AT,
    taskRoot: env.HEARTH_TASK_ROOT,
    bootstrap: env.HEARTH_RUNTIME_BOOTSTRAP,
    region: env.HEARTH_REGION,
  },
  logger,
);

worker.run().then(
  () => process.exit(0),
  (err: unknown) => {
    logger.error({ err }, "adapter failed");
    process.exit(1);
  },
);
