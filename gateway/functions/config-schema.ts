// Validation of the settings a user deploys a function with, defaults filled in.

import { z } from "zod";
import { AUTH_MODES, DEFAULT_EPHEMERAL_STORAGE_MB, DEFAULT_HOOK_TIMEOUT, RUNTIMES, type FunctionConfig, type Runtime } from "./definition.js";

/** Variables the platform sets for the runtime; a function may not override them. */
const RESERVED_ENV = /^(AWS_|LAMBDA_|FC_|HEARTH_|_HANDLER$|_X_AMZN_)/;

/** Bytes of all variable names and values together, as on AWS Lambda: every container's environment carries them. */
const MAX_ENVIRONMENT_BYTES = 4096;
const MAX_ENVIRONMENT_VARIABLES = 100;
const MAX_HANDLER_LENGTH = 128;
const MAX_NAME_LENGTH = 128;

/** The handler a runtime loads when none is given (Go's is Yandex Cloud Functions' entry point form). */
const DEFAULT_HANDLER: Record<Runtime, string> = { node: "index.handler", python: "index.handler", go: "index.Handler", custom: "function.handler" };

/** Runtimes whose handler is not file.export: Go's names a binary, a custom runtime's means what its bootstrap says. */
const FREE_FORM_HANDLERS: readonly Runtime[] = ["go", "custom"];

const handlerName = z
  .string()
  .max(MAX_HANDLER_LENGTH)
  .regex(/^(?!\/)(?!.*\.\.)[A-Za-z0-9_\-./]+$/, "handler is a path inside the package: letters, digits, _ - . /, not absolute, no ..");

/** file.export (Go's file.Function too): what handlers and hooks name. */
const EXPORT_FORM = /\.[A-Za-z_$][\w$]*$/;

export const functionConfigSchema = z
  .object({
    runtime: z.enum(RUNTIMES),
    handler: handlerName.optional(),
    environment: z
      .record(
        z.string().max(MAX_NAME_LENGTH).regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "environment variable names are letters, digits and _"),
        z.string().regex(/^[^\0]*$/, "environment values cannot hold NUL characters"),
      )
      .refine((env) => Object.keys(env).every((name) => !RESERVED_ENV.test(name)), {
        message: "environment variables starting with AWS_, LAMBDA_, FC_, HEARTH_ or named _HANDLER are reserved",
      })
      .refine((env) => Object.keys(env).length <= MAX_ENVIRONMENT_VARIABLES, {
        message: `at most ${MAX_ENVIRONMENT_VARIABLES} environment variables`,
      })
      .superRefine((env, context) => {
        const bytes = Object.entries(env).reduce((sum, [name, value]) => sum + Buffer.byteLength(name) + Buffer.byteLength(value), 0);
        if (bytes > MAX_ENVIRONMENT_BYTES) {
          context.addIssue({ code: "custom", message: `names and values total ${bytes} bytes; the limit is ${MAX_ENVIRONMENT_BYTES} (as on AWS Lambda)` });
        }
      })
      .default({}),
    timeout: z.number().positive().max(900).default(30),
    memory: z.number().int().min(64).max(10240).default(256),
    // Lambda's bounds for /tmp.
    ephemeralStorage: z.number().int().min(512).max(10240).default(DEFAULT_EPHEMERAL_STORAGE_MB),
    maxContainers: z.number().int().min(1).max(1000).default(10),
    keepAlive: z.number().positive().max(86400).default(600),
    minWarm: z.number().int().min(0).max(1000).default(0),
    maxRetries: z.number().int().min(0).max(20).default(2),
    retryDelay: z.number().min(0.01).max(3600).default(1),
    maxQueued: z.number().int().min(1).max(1_000_000).default(5000),
    maxQueuedAsync: z.number().int().min(1).max(10_000_000).default(100_000),
    auth: z.enum(AUTH_MODES).default("key"),
    network: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/, "network is the name of a Docker network").default("none"),
    // Function Compute's lifecycle hooks, with its bounds (preStop shorter: a retiring container should not linger).
    initializer: handlerName.regex(EXPORT_FORM, "initializer must look like file.export, for example index.initializer").optional(),
    initializationTimeout: z.number().positive().max(300).default(DEFAULT_HOOK_TIMEOUT),
    preStop: handlerName.regex(EXPORT_FORM, "preStop must look like file.export, for example index.preStop").optional(),
    preStopTimeout: z.number().positive().max(60).default(DEFAULT_HOOK_TIMEOUT),
  })
  .strict()
  .transform(({ handler, ...config }) => ({ ...config, handler: handler ?? DEFAULT_HANDLER[config.runtime] }))
  .refine((config) => config.minWarm <= config.maxContainers, { message: "minWarm cannot exceed maxContainers", path: ["minWarm"] })
  .refine((config) => FREE_FORM_HANDLERS.includes(config.runtime) || EXPORT_FORM.test(config.handler), {
    message: "handler must look like file.export, for example index.handler",
    path: ["handler"],
  }) satisfies z.ZodType<FunctionConfig, unknown>;
