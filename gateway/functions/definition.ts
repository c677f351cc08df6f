// What a user says about a function, validated; and how it is stored in the function's `def` hash.

import { z } from "zod";

export const RUNTIMES = ["node"] as const;
export type Runtime = (typeof RUNTIMES)[number];

export const FUNCTION_NAME = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

/** Variables the platform sets for the runtime; a function may not override them. */
const RESERVED_ENV = /^(AWS_|LAMBDA_|HEARTH_|_HANDLER$|_X_AMZN_)/;

export const functionConfigSchema = z
  .object({
    runtime: z.enum(RUNTIMES),
    handler: z
      .string()
      .regex(/^[A-Za-z0-9_\-./]+\.[A-Za-z_$][\w$]*$/, "handler must look like file.export, for example index.handler")
      .default("index.handler"),
    environment: z
      .record(
        z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "environment variable names are letters, digits and _"),
        z.string(),
      )
      .refine((env) => Object.keys(env).every((name) => !RESERVED_ENV.test(name)), {
        message: "environment variables starting with AWS_, LAMBDA_, HEARTH_ or named _HANDLER are reserved",
      })
      .default({}),
    /** Seconds a single invocation may run. */
    timeout: z.number().positive().max(900).default(30),
    /** Memory limit of each container in MiB (no swap beyond it). */
    memory: z.number().int().min(64).max(10240).default(256),
    maxContainers: z.number().int().min(1).max(1000).default(10),
    /** Seconds an idle container is kept warm. */
    keepAlive: z.number().positive().max(86400).default(600),
  })
  .strict();

export type FunctionConfig = z.output<typeof functionConfigSchema>;

export interface FunctionDefinition extends FunctionConfig {
  name: string;
  version: number;
  codeSha256: string;
  codeSize: number;
  createdAt: number;
  updatedAt: number;
}

/** Field/value pairs for the `def` hash; version, codeSha and the timestamps are written by deploy-function.lua. */
export function toHashFields(config: FunctionConfig, codeSize: number): string[] {
  return [
    "runtime", config.runtime,
    "handler", config.handler,
    "environment", JSON.stringify(config.environment),
    "timeout", String(config.timeout),
    "memory", String(config.memory),
    "maxContainers", String(config.maxContainers),
    "keepAlive", String(config.keepAlive),
    "codeSize", String(codeSize),
  ];
}

export function fromHash(name: string, hash: Record<string, string>): FunctionDefinition | undefined {
  if (!hash.version) return undefined;
  const config = functionConfigSchema.parse({
    runtime: hash.runtime,
    handler: hash.handler,
    environment: JSON.parse(hash.environment ?? "{}"),
    timeout: Number(hash.timeout),
    memory: Number(hash.memory),
    maxContainers: Number(hash.maxContainers),
    keepAlive: Number(hash.keepAlive),
  });
  return {
    name,
    ...config,
    version: Number(hash.version),
    codeSha256: hash.codeSha ?? "",
    codeSize: Number(hash.codeSize),
    createdAt: Number(hash.createdAt),
    updatedAt: Number(hash.updatedAt),
  };
}
