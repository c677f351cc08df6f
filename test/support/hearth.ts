// A real Hearth in the test process: its own redis-server, its own invoker id (so that tests only
// ever touch containers they started), the real Docker engine.

import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import calculateSlot from "cluster-key-slot";
import Docker from "dockerode";
import { Redis } from "ioredis";
import { afterAll, beforeAll } from "vitest";
import { configFromEnv, type HearthConfig } from "../../gateway/config.js";
import { startHearth, type Hearth } from "../../gateway/hearth.js";
import { LABELS } from "../../gateway/invoker/docker-backend.js";
import { createLogger } from "../../gateway/logger.js";
import { functionKeys } from "../../gateway/protocol/keys.js";
import type { ClusterTarget, SentinelTarget } from "../../gateway/redis/connections.js";
import { startEmbeddedRedis, type EmbeddedRedis } from "../../gateway/redis/embedded-redis.js";
import type { Files } from "./packages.js";
import type { RedisCluster } from "./redis-cluster.js";
import { tarGz } from "./packages.js";

export const docker = new Docker();

/** The admin key of every Hearth a test starts (testConfig, and HEARTH_ADMIN_TOKEN of a process); drawn per test file. */
export const TEST_ADMIN_TOKEN = randomBytes(32).toString("base64url");

/** Headers that authenticate a request with TEST_ADMIN_TOKEN. */
export const adminHeaders: Readonly<Record<string, string>> = { authorization: `Bearer ${TEST_ADMIN_TOKEN}` };

export interface TestHearth {
  url: string;
  invokerId: string;
  adminToken: string;
  hearth: Hearth;
  stop(): Promise<void>;
}

/** Where test Hearths keep their code caches (each in a folder of its invoker id, removed when it stops). */
export const TEST_CODE_CACHE_DIR = path.join(os.tmpdir(), "hearth-test-code-cache");

export function testConfig(overrides: Partial<HearthConfig> = {}): HearthConfig {
  const defaults = configFromEnv(imageSettings(process.env));
  return {
    // Only the image names come from the environment: a branch that changes the adapter tests images of its own tags.
    ...defaults,
    codeCache: { ...defaults.codeCache, directory: TEST_CODE_CACHE_DIR },
    port: 0,
    invokerId: `test-${randomBytes(4).toString("hex")}`,
    adminToken: TEST_ADMIN_TOKEN,
    queueTimeoutMs: 20_000,
    shutdownTimeoutMs: 15_000,
    // Tests that are not about stem cells count and time their containers without them.
    stemCells: { node: 0, python: 0, go: 0, custom: 0 },
    ...overrides,
  };
}

function imageSettings(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(env).filter(([name]) => name.startsWith("HEARTH_IMAGE_")));
}

/** Hearth's default quotas, for tests that deploy through the registry itself. */
export const defaultQuotas = configFromEnv({}).quotas;
/** A redis-server as a test Hearth uses it: by URL (with its password), and by unix socket for containers. */
export interface RedisAddress {
  url: string;
  socketPath: string;
}

export interface FileHearth extends TestHearth {
  redisUrl: string;
  redis: RedisAddress;
  /** A connection of the test's own, to look into Redis. */
  client: Redis;
}

/**
 * A Hearth on a redis-server of its own for the tests of one file: started before them, stopped (with
 * its containers) after them. Its fields are there once the file's first beforeAll has run.
 */
export function useTestHearth(overrides: Partial<HearthConfig> = {}): FileHearth {
  const context = {} as FileHearth;
  let redis: EmbeddedRedis | undefined;
  beforeAll(async () => {
    redis = await startTestRedis();
    Object.assign(context, await startTestHearth(redis, overrides), { redisUrl: redis.url, redis: { url: redis.url, socketPath: redis.socketPath }, client: new Redis(redis.url) });
  });
  afterAll(async () => {
    await context.stop?.();
    context.client?.disconnect();
    await redis?.stop();
  });
  return context;
}

/** Redis behind Sentinel, and where the invoker serves the socket its containers reach the master by. */
export interface SentinelRedis {
  sentinel: SentinelTarget;
  socketPath: string;
}

/** A Redis Cluster, and where the invoker serves the sockets its containers reach the masters by (the directory of `socketPath`). */
export interface ClusterRedis {
  cluster: ClusterTarget;
  socketPath: string;
}

/** Starts Hearth on a redis-server of the test's (shared by several Hearths when given), on Sentinel, or on a Cluster. */
export async function startTestHearth(redis: RedisAddress | SentinelRedis | ClusterRedis, overrides: Partial<HearthConfig> = {}): Promise<TestHearth> {
  const target = "sentinel" in redis ? { sentinel: redis.sentinel } : "cluster" in redis ? { cluster: redis.cluster } : { url: redis.url };
  const config = testConfig({ redis: target, containerRedisSocket: redis.socketPath, ...overrides });
  const hearth = await startHearth(config, createLogger("test-hearth"));
  return {
    url: hearth.url!,
    invokerId: config.invokerId,
    adminToken: config.adminToken!,
    hearth,
    stop: async () => {
      await hearth.stop();
      await removeContainers(config.invokerId);
      await rm(path.join(config.codeCache.directory, config.invokerId), { recursive: true, force: true });
    },
  };
}

/** A Hearth on a Redis Cluster of the test's (redis-cluster.ts). */
export interface ClusterTestHearth extends TestHearth {
  /** Where its invoker serves the containers' sockets, one per master, and their map (slots.json): a temporary directory removed at stop. */
  socketsDir: string;
}

/** Starts Hearth on `cluster`, its containers' sockets in a temporary directory of their own. */
export async function startTestHearthOnCluster(cluster: RedisCluster, overrides: Partial<HearthConfig> = {}): Promise<ClusterTestHearth> {
  const dir = await mkdtemp(path.join(os.tmpdir(), "hearth-cluster-"));
  const socketsDir = path.join(dir, "sockets");
  const nodes = cluster.nodes.map(({ port }) => ({ host: "127.0.0.1", port }));
  try {
    const hearth = await startTestHearth({ cluster: { nodes, password: cluster.password }, socketPath: path.join(socketsDir, "redis.sock") }, overrides);
    const stop = async (): Promise<void> => {
      try {
        await hearth.stop();
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    };
    return { ...hearth, socketsDir, stop };
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
}

/** `count` function names whose keys are in `cluster`'s slot range `range`, each in a slot of its own. */
export function functionsIn(cluster: RedisCluster, range: number, count = 1): string[] {
  const names: string[] = [];
  const slots = new Set<number>();
  for (let i = 0; names.length < count; i += 1) {
    const key = functionKeys(`fn-${i}`).def;
    if (cluster.rangeOf(key) !== range || slots.has(calculateSlot(key))) continue;
    names.push(`fn-${i}`);
    slots.add(calculateSlot(key));
  }
  return names;
}

/** A real redis-server on a free loopback port, its data in a temporary directory removed at stop. */
export async function startTestRedis(): Promise<EmbeddedRedis> {
  const dir = await mkdtemp(path.join(os.tmpdir(), "hearth-test-redis-"));
  const redis = await startEmbeddedRedis(dir);
  return {
    url: redis.url,
    socketPath: redis.socketPath,
    stop: async () => {
      await redis.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** The containers a test's invoker started; a safety net removes them when the test ends. */
export async function listContainers(invokerId: string, fn?: string): Promise<Docker.ContainerInfo[]> {
  const labels = [`${LABELS.invoker}=${invokerId}`, ...(fn ? [`${LABELS.function}=${fn}`] : [])];
  return docker.listContainers({ all: true, filters: { label: labels } });
}

async function removeContainers(invokerId: string): Promise<void> {
  for (const info of await listContainers(invokerId)) {
    await docker.getContainer(info.Id).remove({ force: true }).catch(() => undefined);
  }
}

export async function deploy(url: string, name: string, config: object, files?: Files): Promise<Response> {
  if (!files) {
    return fetch(`${url}/system/functions/${name}`, { method: "PUT", headers: { ...adminHeaders, "content-type": "application/json" }, body: JSON.stringify(config) });
  }
  return deployPackage(url, name, config, await tarGz(files));
}

export async function deployPackage(url: string, name: string, config: object, code: Buffer): Promise<Response> {
  const form = new FormData();
  form.set("config", JSON.stringify(config));
  form.set("code", new Blob([new Uint8Array(code)]), "code.tgz");
  return fetch(`${url}/system/functions/${name}`, { method: "PUT", headers: adminHeaders, body: form });
}

export async function invoke(url: string, name: string, event: unknown = {}): Promise<{ status: number; body: any; headers: Headers; text: string }> {
  const response = await fetch(`${url}/function/${name}`, { method: "POST", headers: { ...adminHeaders, "content-type": "application/json" }, body: JSON.stringify(event) });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : undefined, headers: response.headers, text };
}

export { eventually } from "./eventually.js";
