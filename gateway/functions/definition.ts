// A function's settings and how they are stored in its `def` hash. The adapter reads them at every
// cold start, so this file stays free of the validation library (config-schema.ts validates input).

/** `custom`: the package's own `bootstrap` is the runtime, a client of the Lambda runtime API (Lambda's provided runtimes). */
export const RUNTIMES = ["node", "python", "go", "custom"] as const;
export type Runtime = (typeof RUNTIMES)[number];

/** Who may call a function's triggers: a key allowed to invoke it, or anyone (a public HTTP trigger). */
export const AUTH_MODES = ["key", "none"] as const;
export type AuthMode = (typeof AUTH_MODES)[number];

export const FUNCTION_NAME = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

/** Size of /tmp in MiB when a function does not say (Lambda's default); also for functions deployed before the setting. */
export const DEFAULT_EPHEMERAL_STORAGE_MB = 512;

export interface FunctionConfig {
  runtime: Runtime;
  /** file.export, e.g. index.handler */
  handler: string;
  environment: Record<string, string>;
  /** Seconds a single invocation may run. */
  timeout: number;
  /** Memory limit of each container in MiB (no swap beyond it). */
  memory: number;
  /** Size of the function's /tmp in MiB (a tmpfs: what it holds counts against `memory`). */
  ephemeralStorage: number;
  maxContainers: number;
  /** Seconds an idle container is kept warm. */
  keepAlive: number;
  /** Containers kept warm whatever the load (as Lambda's provisioned concurrency): started at deploy, never retired for idleness. */
  minWarm: number;
  /** Retries of a failed async invocation before it is dead-lettered. */
  maxRetries: number;
  /** Seconds before the first retry; each further retry waits twice as long (with jitter). */
  retryDelay: number;
  /** Sync requests that may wait in the queue; more are answered 429. */
  maxQueued: number;
  /** Async invocations that may wait (queued or for a retry); more are answered 429. */
  maxQueuedAsync: number;
  auth: AuthMode;
  /** The Docker network its containers join: `none` (no network at all), or one the operator allows. */
  network: string;
  /** Function Compute's initializer: a handler (file.export) run once per runtime, before its first invocation. */
  initializer?: string;
  /** Seconds the initializer may run. */
  initializationTimeout: number;
  /** Function Compute's preStop: a handler run before a container retires. */
  preStop?: string;
  /** Seconds the preStop hook may run. */
  preStopTimeout: number;
}

/** Seconds an initializer or a preStop hook may run when a function does not say (Function Compute's default). */
export const DEFAULT_HOOK_TIMEOUT = 3;

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
    "ephemeralStorage", String(config.ephemeralStorage),
    "maxContainers", String(config.maxContainers),
    "keepAlive", String(config.keepAlive),
    "minWarm", String(config.minWarm),
    "maxRetries", String(config.maxRetries),
    "retryDelay", String(config.retryDelay),
    "maxQueued", String(config.maxQueued),
    "maxQueuedAsync", String(config.maxQueuedAsync),
    "auth", config.auth,
    "network", config.network,
    "initializer", config.initializer ?? "",
    "initializationTimeout", String(config.initializationTimeout),
    "preStop", config.preStop ?? "",
    "preStopTimeout", String(config.preStopTimeout),
    "codeSize", String(codeSize),
  ];
}

/** The stored definition (validated when it was deployed), or undefined when there is none. */
export function fromHash(name: string, hash: Record<string, string>): FunctionDefinition | undefined {
  if (!hash.version) return undefined;
  return {
    name,
    runtime: hash.runtime as Runtime,
    handler: hash.handler ?? "",
    environment: JSON.parse(hash.environment ?? "{}") as Record<string, string>,
    timeout: Number(hash.timeout),
    memory: Number(hash.memory),
    ephemeralStorage: Number(hash.ephemeralStorage ?? DEFAULT_EPHEMERAL_STORAGE_MB),
    maxContainers: Number(hash.maxContainers),
    keepAlive: Number(hash.keepAlive),
    minWarm: Number(hash.minWarm ?? 0),
    maxRetries: Number(hash.maxRetries),
    retryDelay: Number(hash.retryDelay),
    maxQueued: Number(hash.maxQueued),
    maxQueuedAsync: Number(hash.maxQueuedAsync),
    // Only an explicit "none" opens a function (definitions stored before this setting need a key).
    auth: hash.auth === "none" ? "none" : "key",
    network: hash.network ?? "none",
    initializer: hash.initializer || undefined,
    initializationTimeout: Number(hash.initializationTimeout ?? DEFAULT_HOOK_TIMEOUT),
    preStop: hash.preStop || undefined,
    preStopTimeout: Number(hash.preStopTimeout ?? DEFAULT_HOOK_TIMEOUT),
    version: Number(hash.version),
    codeSha256: hash.codeSha ?? "",
    codeSize: Number(hash.codeSize),
    createdAt: Number(hash.createdAt),
    updatedAt: Number(hash.updatedAt),
  };
}
