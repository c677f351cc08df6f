// The invoker keeps each function's containers on one Docker engine matched to its queued work:
// it starts containers when work has nobody to take it (cold starts), answers the callers of
// containers that die, and drains its containers on shutdown. Idle containers retire by themselves
// after their keep-alive (the adapter's blocking read times out), so nothing here polls for work;
// the one timer is the heartbeat that lets invokers release the containers of a dead one.

import { randomBytes } from "node:crypto";
import type { Redis } from "ioredis";
import type { Runtime } from "../functions/definition.js";
import type { Logger } from "../logger.js";
import type { Metrics } from "../metrics/metrics.js";
import { parseContainerRecord, type ContainerRecord } from "../protocol/container-record.js";
import { decodeMessage, errorBody, errorResult, type InvocationMeta } from "../protocol/envelope.js";
import type { EventBus } from "../protocol/event-bus.js";
import type { HearthEvent } from "../protocol/events.js";
import { functionKeys, FUNCTIONS_INDEX, invokerAliveKey } from "../protocol/keys.js";
import { pushReplies } from "../protocol/replies.js";
import { scripts } from "../protocol/scripts.js";
import { ContainerUsers } from "./container-users.js";
import type { ContainerExit, ContainerSpec, DockerBackend } from "./docker-backend.js";

/** How long stop() waits for Docker to remove a container it has stopped or that exited. */
const REMOVAL_TIMEOUT_MS = 10_000;
/** How soon an UNBLOCK is repeated for a container that was between two requests. */
const UNBLOCK_RETRY_MS = 250;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

interface Launched {
  function: string;
  dockerId?: string;
  /** Its runtime asked for work (the `ready` event): from then on an exit is a container dying, not a failed start. */
  ready: boolean;
}

export class Invoker {
  /** Containers this invoker started that have not exited, by Hearth container id. */
  private readonly launched = new Map<string, Launched>();
  private readonly scaling = new Set<string>();
  private readonly scaleAgain = new Set<string>();
  /** Container starts under way, awaited by stop() so that none outlives it. */
  private readonly launches = new Set<Promise<void>>();
  private stopWatching?: () => void;
  private heartbeat?: NodeJS.Timeout;
  private draining = false;
  private onAllExited?: () => void;
  private readonly users: ContainerUsers;

  constructor(
    private readonly redis: Redis,
    private readonly backend: DockerBackend,
    private readonly metrics: Metrics,
    private readonly logger: Logger,
    readonly invokerId: string,
    /** How often this invoker says it is alive and looks for containers of invokers that are not. */
    private readonly heartbeatMs: number,
    /** How long the record of an async invocation it fails is kept. */
    private readonly retentionMs: number,
  ) {
    this.users = new ContainerUsers(redis);
  }

  async start(events: EventBus): Promise<void> {
    await this.beat();
    this.heartbeat = setInterval(
      () => void this.beat().then(() => this.releaseContainersOfDeadInvokers()).catch((err) => this.logger.error({ err }, "heartbeat failed")),
      this.heartbeatMs,
    );
    await this.removeOrphans();
    this.stopWatching = await this.backend.watchExits(
      (exit) => void this.onExit(exit).catch((err) => this.logger.error({ err }, "handling a container exit failed")),
      (err) => this.logger.warn({ err }, "Docker event stream lost; resubscribing"),
    );
    events.on((event) => this.onEvent(event));
    // Work queued while no invoker ran has had no signal yet.
    for (const name of await this.redis.smembers(FUNCTIONS_INDEX)) this.scaleUp(name);
  }

  /** Stops taking work, lets busy containers finish their request, then stops everything it started. */
  async stop(timeoutMs: number): Promise<void> {
    this.draining = true;
    clearInterval(this.heartbeat);
    await Promise.all(this.launches);
    const dockerIds = [...this.launched.values()].flatMap((container) => (container.dockerId ? [container.dockerId] : []));
    const byFunction = new Map<string, string[]>();
    for (const [containerId, { function: fn }] of this.launched) byFunction.set(fn, [...(byFunction.get(fn) ?? []), containerId]);
    for (const [fn, containerIds] of byFunction) {
      const keys = functionKeys(fn);
      await scripts.markDraining.run(this.redis, [keys.containers, keys.draining], containerIds);
    }
    if (this.launched.size > 0) {
      const allExited = new Promise<void>((resolve) => (this.onAllExited = resolve));
      const deadline = Date.now() + timeoutMs;
      // An idle container between two requests misses an UNBLOCK: repeat until all have exited.
      while (this.launched.size > 0 && Date.now() < deadline) {
        for (const fn of byFunction.keys()) await this.unblockIdle(fn, () => true);
        await Promise.race([allExited, sleep(UNBLOCK_RETRY_MS)]);
      }
    }
    this.stopWatching?.();
    for (const [containerId, container] of this.launched) {
      if (container.dockerId) await this.backend.remove(container.dockerId);
      await this.release(container.function, containerId, "Hearth.InvokerStopped", "the invoker stopped while the request ran");
    }
    this.launched.clear();
    // Exited is not yet removed: wait (bounded) until Docker has removed them all.
    const removed = await Promise.all(dockerIds.map((dockerId) => this.backend.waitRemoved(dockerId, REMOVAL_TIMEOUT_MS)));
    if (removed.includes(false)) this.logger.warn({ containers: removed.filter((done) => !done).length }, "Docker had not removed every container when the invoker stopped");
    await this.redis.del(invokerAliveKey(this.invokerId));
  }

  private async beat(): Promise<void> {
    await this.redis.set(invokerAliveKey(this.invokerId), String(Date.now()), "PX", this.heartbeatMs * 3);
  }

  /**
   * Containers recorded by an invoker that stopped beating (its host or process died): nobody will
   * hear their exit, and their records would pass for capacity. Release them: their callers get 502,
   * queued work gets new containers, and any of them still running retires (mustRetire).
   */
  private async releaseContainersOfDeadInvokers(): Promise<void> {
    const alive = new Map<string, boolean>([[this.invokerId, true]]);
    const isDead = async (invokerId: string): Promise<boolean> => {
      if (!alive.has(invokerId)) alive.set(invokerId, (await this.redis.exists(invokerAliveKey(invokerId))) === 1);
      return !alive.get(invokerId);
    };
    await this.releaseRecordsWhere(({ invokerId }) => isDead(invokerId), "Hearth.InvokerLost", "the invoker running the function's container stopped answering");
    // Their Redis users too, and any of this invoker's own whose container is gone (a removal that failed).
    await this.users.removeWhere((invokerId, containerId) => (invokerId === this.invokerId ? !this.launched.has(containerId) : isDead(invokerId)));
  }

  /** Releases the container records, of every function, that `select` picks. */
  private async releaseRecordsWhere(select: (record: ContainerRecord) => Promise<boolean> | boolean, errorType: string, message: string): Promise<void> {
    for (const fn of await this.redis.smembers(FUNCTIONS_INDEX)) {
      for (const [containerId, value] of Object.entries(await this.redis.hgetall(functionKeys(fn).containers))) {
        const record = parseContainerRecord(value);
        if (!(await select(record))) continue;
        this.logger.warn({ function: fn, containerId, invokerId: record.invokerId, errorType }, "releasing a container record");
        await this.release(fn, containerId, errorType, message);
      }
    }
  }

  private onEvent(event: HearthEvent): void {
    switch (event.type) {
      case "work":
        return this.scaleUp(event.function);
      case "deployed":
        return this.retireIdle(event.function, (version) => version !== event.version);
      case "deleted":
        return this.retireIdle(event.function, () => true);
      case "ready": {
        const launched = this.launched.get(event.containerId);
        if (!launched) return;
        launched.ready = true;
        this.metrics.observeColdStart(event.function, (event.timings.runtimeReadyAt - event.timings.createdAt) / 1000);
        return;
      }
    }
  }

  /** Reserves and starts containers while the function's queue needs them; concurrent calls coalesce. */
  private scaleUp(fn: string): void {
    if (this.draining) return;
    if (this.scaling.has(fn)) {
      this.scaleAgain.add(fn);
      return;
    }
    this.scaling.add(fn);
    this.reserveAndLaunch(fn)
      .catch((err) => this.logger.error({ err, function: fn }, "scaling up failed"))
      .finally(() => {
        this.scaling.delete(fn);
        if (this.scaleAgain.delete(fn)) this.scaleUp(fn);
      });
  }

  private async reserveAndLaunch(fn: string): Promise<void> {
    const keys = functionKeys(fn);
    while (!this.draining) {
      const containerId = randomBytes(6).toString("hex");
      const createdAt = Date.now();
      const reserved = (await scripts.reserveContainer.run(this.redis, [keys.def, keys.queue, keys.containers], [containerId, this.invokerId, createdAt])) as
        | [string, string, string, string, string | null]
        | null;
      if (!reserved) return;
      const [version, codeSha, runtime, memory, network] = reserved;
      const launch = this.launch({ containerId, function: fn, version: Number(version), codeSha, runtime: runtime as Runtime, memoryMb: Number(memory), network: network ?? "none", createdAt })
        .catch((err) => this.logger.error({ err, function: fn }, "launching a container failed"))
        .finally(() => this.launches.delete(launch));
      this.launches.add(launch);
    }
  }

  private async launch(spec: ContainerSpec): Promise<void> {
    if (this.draining) {
      await this.release(spec.function, spec.containerId, "Hearth.InvokerStopped", "the invoker is stopping");
      return;
    }
    const launched: Launched = { function: spec.function, ready: false };
    this.launched.set(spec.containerId, launched);
    try {
      const credentials = await this.users.create(this.invokerId, spec.containerId, spec.function);
      launched.dockerId = await this.backend.start(spec, credentials);
      this.logger.debug({ function: spec.function, containerId: spec.containerId }, "container started");
    } catch (err) {
      this.logger.error({ err, function: spec.function }, "container failed to start");
      this.forget(spec.containerId);
      const message = `could not start a container for ${spec.function}: ${(err as Error).message}`;
      await this.release(spec.function, spec.containerId, "Hearth.ContainerStartFailed", message, { failQueued: true });
    }
  }

  private async onExit(exit: ContainerExit): Promise<void> {
    const launched = this.launched.get(exit.containerId);
    if (!launched || !this.forget(exit.containerId)) return;
    const cause = exit.exitCode === 137 ? "was killed (out of memory, or stopped from outside)" : `exited with code ${exit.exitCode}`;
    if (!launched.ready && exit.exitCode !== 0) {
      // It failed before it could serve (it cannot reach Redis, its code does not unpack, …): starting
      // another would fail the same way, so the queued callers hear it now instead of at their timeout.
      // (Exit code 0 before ready is a container whose function was redeployed meanwhile.)
      const message = `the function's container ${cause} before it was ready; see the invoker's and the container's logs`;
      await this.release(exit.function, exit.containerId, "Hearth.ContainerStartFailed", message, { failQueued: true });
      return;
    }
    await this.release(exit.function, exit.containerId, "Hearth.ContainerExited", `the function's container ${cause} while it ran the request`);
  }

  private forget(containerId: string): boolean {
    const known = this.launched.delete(containerId);
    if (known && this.launched.size === 0) this.onAllExited?.();
    return known;
  }

  /**
   * Forgets a container in Redis; its callers get 502 at once instead of waiting for a timeout.
   * After a failed start that left the function with no container, the queued callers get 503.
   * Async invocations it held are failed attempts: retried, or dead-lettered. Its Redis user goes
   * (if this invoker made it; the heartbeat's sweep removes those of dead invokers, and any left).
   */
  private async release(fn: string, containerId: string, errorType: string, message: string, options = { failQueued: false }): Promise<void> {
    await this.users.remove(this.invokerId, containerId).catch((err) => this.logger.warn({ err, containerId }, "removing a container's Redis user failed"));
    const keys = functionKeys(fn);
    const [orphaned, failed] = (await scripts.releaseContainer.runBuffer(
      this.redis,
      [keys.def, keys.queue, keys.containers, keys.draining, keys.running(containerId), keys.asyncQueued, keys.retries, keys.deadLetters, keys.callbacks, keys.stats],
      [containerId, fn, options.failQueued ? "1" : "0", Date.now(), Math.random(), this.retentionMs, keys.invocationPrefix, errorBody(errorType, message), errorBody(errorType, message)],
    )) as [Buffer[], Buffer[]];
    await this.answer(orphaned, 502, errorType, message);
    await this.answer(failed, 503, errorType, message);
  }

  private async answer(envelopes: Buffer[], status: number, errorType: string, message: string): Promise<void> {
    await Promise.all(
      envelopes.map((raw) => {
        const { meta } = decodeMessage<InvocationMeta>(raw);
        return pushReplies(this.redis, meta.replyTo, [errorResult(meta.id, meta.function, status, errorType, message)]);
      }),
    );
  }

  /**
   * Wakes the idle containers that must retire after a deploy or delete; once more a moment later for
   * one that was between two requests (not yet blocked) the first time.
   */
  private retireIdle(fn: string, stale: (version: number) => boolean): void {
    const unblock = (): void => {
      if (this.draining) return; // stop() wakes every container itself
      this.unblockIdle(fn, stale).catch((err) => this.logger.error({ err, function: fn }, "unblocking idle containers failed"));
    };
    unblock();
    setTimeout(unblock, UNBLOCK_RETRY_MS).unref();
  }

  /** Wakes this invoker's idle containers of a function whose version matches, so they retire. */
  private async unblockIdle(fn: string, stale: (version: number) => boolean): Promise<void> {
    const records = await this.redis.hgetall(functionKeys(fn).containers);
    for (const [containerId, value] of Object.entries(records)) {
      const record = parseContainerRecord(value);
      if (this.launched.has(containerId) && record.state === "idle" && stale(record.version)) {
        await this.redis.client("UNBLOCK", record.clientId);
      }
    }
  }

  /** Containers left by an earlier run of this invoker: remove them and forget their Redis records. */
  private async removeOrphans(): Promise<void> {
    for (const dockerId of await this.backend.listOwned()) await this.backend.remove(dockerId);
    await this.users.removeWhere((invokerId) => invokerId === this.invokerId);
    await this.releaseRecordsWhere(
      ({ invokerId }) => invokerId === this.invokerId,
      "Hearth.ContainerExited",
      "the invoker restarted while the request ran",
    );
  }
}
