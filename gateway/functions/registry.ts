// The function registry: definitions and code packages in Redis. Plain functions of a Redis
// connection, so the admin API stays thin and tests call them directly.

import { createHash } from "node:crypto";
import type { RedisClient } from "../redis/connections.js";
import { HearthError } from "../errors.js";
import { decodeMessage, errorBody, errorResult, type InvocationMeta } from "../protocol/envelope.js";
import type { Quotas } from "../config.js";
import { destroyGroupsOfDeleted } from "../async/stream-subscriptions.js";
import { functionKeys, FUNCTIONS_INDEX } from "../protocol/keys.js";
import { parseContainerRecord, type ContainerRecord } from "../protocol/container-lifecycle.js";
import { deleteFunction as deleteScript, deployFunction as deployScript } from "../protocol/function-scripts.js";
import { INVOCATION_OUTCOMES, type InvocationOutcome } from "../protocol/outcome.js";
import { pushReplies } from "../protocol/replies.js";
import { functionConfigSchema } from "./config-schema.js";
import {
  FUNCTION_NAME,
  fromHash,
  toHashFields,
  type FunctionConfig,
  type FunctionDefinition,
} from "./definition.js";
import { deployWithinQuotas, releaseQuotas } from "./quotas.js";
import { preparePackage, type GoBuilder } from "./runtime-packages.js";

export interface DeployResult {
  definition: FunctionDefinition;
  created: boolean;
}

export interface PoolStatus {
  /** Envelopes in the function's queue, sync and async. */
  queued: number;
  containers: Record<ContainerRecord["state"], number>;
  /** Runtimes and containers the kernel killed for the function's memory limit, across the cluster. */
  outOfMemory: number;
  async: AsyncStatus;
}

export interface AsyncStatus {
  /** Async invocations waiting in the queue for a container. */
  queued: number;
  /** Async invocations waiting for their retry's backoff to end. */
  retrying: number;
  /** Since the oldest of `queued` entered the queue (a retry: since its backoff ended); 0 when none waits. */
  oldestQueuedAgeSeconds: number;
  /** Async invocations in the dead-letter queue. */
  deadLetters: number;
  /** Totals the scripts count in `stats`, across the cluster: retries scheduled, invocations dead-lettered, failed callback tries. */
  retries: number;
  deadLettered: number;
  callbackFailures: number;
  /** Async attempts by how they ended (throttled: refused at accept), across the cluster. */
  outcomes: Record<InvocationOutcome, number>;
  /** How long handlers ran for the async attempts a container settled, added up. */
  executionSeconds: number;
}

function validateName(name: string): void {
  if (!FUNCTION_NAME.test(name)) {
    throw new HearthError(400, "InvalidFunctionName", "function names are 1-63 lower-case letters, digits and dashes, starting and ending with a letter or digit");
  }
}

function parseConfig(input: unknown): FunctionConfig {
  const parsed = functionConfigSchema.safeParse(input);
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map((issue) => `${issue.path.join(".") || "config"}: ${issue.message}`);
  throw new HearthError(400, "InvalidFunctionConfig", problems.join("; "));
}

export async function deployFunction(redis: RedisClient, quotas: Quotas, name: string, input: unknown, upload?: Buffer, buildGo?: GoBuilder): Promise<DeployResult> {
  validateName(name);
  const config = parseConfig(input);
  const keys = functionKeys(name);
  let codeSha: string;
  let codeSize: number;
  const code = upload && (await preparePackage(config, upload, buildGo));
  const existing = await getFunction(redis, name);
  if (code) {
    codeSha = createHash("sha256").update(code).digest("hex");
    codeSize = code.length;
  } else {
    if (!existing) throw new HearthError(400, "CodeRequired", "a new function needs a code package (multipart field 'code')");
    codeSha = existing.codeSha256;
    codeSize = existing.codeSize;
    // A new handler must name a module the stored package has.
    if (config.handler !== existing.handler || config.runtime !== existing.runtime) {
      const stored = await redis.getBuffer(keys.code(codeSha));
      if (stored) await preparePackage(config, stored);
    }
  }
  // What the stored packages grow by (the new package, less the one it replaces), and the containers kept warm.
  const reserved = { codeBytes: existing?.codeSha256 === codeSha ? 0 : codeSize - (existing?.codeSize ?? 0), minWarm: config.minWarm - (existing?.minWarm ?? 0) };
  const { version, created } = await deployWithinQuotas(redis, quotas, name, reserved, async () => {
    const deployed = await deployScript.run(redis, { keys, fn: name, codeSha, code, now: Date.now(), fields: toHashFields(config, codeSize) }).catch((error: Error) => {
      // Another deploy replaced the code between our read and this write.
      if (error.message.startsWith("NOCODE")) throw new HearthError(409, "ConcurrentChange", "the function's code changed during this update; try again");
      throw error;
    });
    return { ...deployed, added: { codeBytes: deployed.addedBytes, minWarm: config.minWarm - deployed.previousMinWarm } };
  });
  const definition = await getFunction(redis, name);
  if (!definition || definition.version < version) throw new HearthError(409, "ConcurrentChange", "the function changed while it was deployed");
  return { definition, created };
}

export async function getFunction(redis: RedisClient, name: string): Promise<FunctionDefinition | undefined> {
  if (!FUNCTION_NAME.test(name)) return undefined;
  return fromHash(name, await redis.hgetall(functionKeys(name).def));
}

export async function listFunctions(redis: RedisClient): Promise<FunctionDefinition[]> {
  const names = (await redis.smembers(FUNCTIONS_INDEX)).sort();
  const definitions = await Promise.all(names.map((name) => getFunction(redis, name)));
  return definitions.filter((definition): definition is FunctionDefinition => definition !== undefined);
}

/**
 * Deletes a function; sync requests still queued for it are answered 404 at once, its async
 * invocations not yet finished fail, its dead letters expire after `retentionMs`.
 */
export async function deleteFunction(redis: RedisClient, name: string, retentionMs: number): Promise<boolean> {
  if (!FUNCTION_NAME.test(name)) return false;
  const keys = functionKeys(name);
  const deleted = await deleteScript.run(redis, { keys, fn: name, now: Date.now(), retentionMs, failedResult: errorBody("FunctionNotFound", `function ${name} was deleted`) });
  await releaseQuotas(redis, name, { codeBytes: deleted?.codeBytes ?? 0, minWarm: deleted?.minWarm ?? 0 });
  if (!deleted) return false;
  await Promise.all([
    // Its consumer groups go with its subscriptions, each on its stream's node.
    destroyGroupsOfDeleted(redis, name, deleted.streams),
    ...deleted.queued.map((raw) => {
      const { meta } = decodeMessage<InvocationMeta>(raw);
      return pushReplies(redis, meta.replyTo, [errorResult(meta.id, name, 404, "FunctionNotFound", `function ${name} was deleted`)]);
    }),
  ]);
  return true;
}

/**
 * A function's queue, containers and async state. Its reads are sent in one tick, so the connection's
 * auto-pipelining makes them one round trip (the reads of every function, when called for each at once).
 */
export async function readPoolStatus(redis: RedisClient, name: string): Promise<PoolStatus> {
  const keys = functionKeys(name);
  const [queued, records, asyncQueued, oldest, retrying, deadLetters, stats] = await Promise.all([
    redis.llen(keys.queue),
    redis.hvals(keys.containers),
    redis.zcard(keys.asyncQueued),
    redis.zrange(keys.asyncQueued, 0, 0, "WITHSCORES"),
    redis.zcard(keys.retries),
    redis.zcard(keys.deadLetters),
    redis.hmget(keys.stats, "retries", "deadLettered", "callbackFailures", "outOfMemory", "async:runMs", ...INVOCATION_OUTCOMES.map((outcome) => `async:${outcome}`)),
  ]);
  const containers: Record<ContainerRecord["state"], number> = { starting: 0, idle: 0, busy: 0 };
  for (const record of records) containers[parseContainerRecord(record).state] += 1;
  const oldestQueuedAt = oldest[1] === undefined ? undefined : Number(oldest[1]);
  const total = (index: number): number => Number(stats[index] ?? 0);
  return {
    queued,
    containers,
    outOfMemory: total(3),
    async: {
      queued: asyncQueued,
      retrying,
      oldestQueuedAgeSeconds: oldestQueuedAt === undefined ? 0 : Math.max(0, Date.now() - oldestQueuedAt) / 1000,
      deadLetters,
      retries: total(0),
      deadLettered: total(1),
      callbackFailures: total(2),
      outcomes: Object.fromEntries(INVOCATION_OUTCOMES.map((outcome, index) => [outcome, total(5 + index)])) as Record<InvocationOutcome, number>,
      executionSeconds: total(4) / 1000,
    },
  };
}

