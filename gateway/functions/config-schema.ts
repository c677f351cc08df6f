// Validation of the settings a user deploys a function with, defaults filled in.

import { z } from "zod";
import { RUNTIMES, type FunctionConfig, type Runtime } from "./definition.js";

/** Variables the platform sets for the runtime; a function may not override them. */
const RESERVED_ENV = /^(AWS_|LAMBDA_|FC_|HEARTH_|_HANDLER$|_X_AMZN_)/;

/** The handler a runtime loads when none is given (Go's is Yandex Cloud Functions' entry point form). */
const DEFAULT_HANDLER: Record<Runtime, string> = { node: "index.handler", python: "index.handler", go: "index.Handler" };

export const functionConfigSchema = z
  .object({
    runtime: z.enum(RUNTIMES),
    handler: z
      .string()
      .regex(/^(?!\/)(?!.*\.\.)[A-Za-z0-9_\-./]+$/, "handler is a path inside the package: letters, digits, _ - . /, not absolute, no ..")
      .optional(),
    environment: z
      .record(
        z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "environment variable names are letters, digits and _"),
        z.string(),
      )
      .refine((env) => Object.keys(env).every((name) => !RESERVED_ENV.test(name)), {
        message: "environment variables starting with AWS_, LAMBDA_, FC_, HEARTH_ or named _HANDLER are reserved",
      })
      .default({}),
    timeout: z.number().positive().max(900).default(30),
    memory: z.number().int().min(64).max(10240).default(256),
    maxContainers: z.number().int().min(1).max(1000).default(10),
    keepAlive: z.number().positive().max(86400).default(600),
    maxRetries: z.number().int().min(0).max(20).default(2),
    retryDelay: z.number().min(0.01).max(3600).default(1),
    maxQueued: z.number().int().min(1).max(1_000_000).default(5000),
    maxQueuedAsync: z.number().int().min(1).max(10_000_000).default(100_000),
    network: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/, "network is the name of a Docker network").default("none"),
  })
  .strict()
  .transform(({ handler, ...config }) => ({ ...config, handler: handler ?? DEFAULT_HANDLER[config.runtime] }))
  .refine((config) => config.runtime === "go" || /\.[A-Za-z_$][\w$]*$/.test(config.handler), {
    message: "handler must look like file.export, for example index.handler",
    path: ["handler"],
  }) satisfies z.ZodType<FunctionConfig, unknown>;
