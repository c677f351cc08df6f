// The invoker keeps each function's containers on one Docker engine matched to its queued work:
// it starts containers when work has nobody to take it (cold starts), answers the callers of
// containers that die, and drains its containers on shutdown. Idle containers retire by themselves
// after their keep-alive (the adapter's blocking read times out), so nothing here polls for work;
// the one timer is the heartbeat that lets invokers release the containers of a dead one.
// Its host has room for so many containers and so much memory (HostCapacity): at the cap, work waits,
// an idle container of another function is retired to make room, and the wait ends when one exits.
// Stem cells (StemCells), containers started before their function is known, take a function's
// first start where their limits fit: the function's Redis user is made and handed to the cell.

import { randomBytes } from "node:crypto";
import { isRedisUnavailable, type RedisClient } from "../redis/connections.js";
import { DEFAULT_EPHEMERAL_STORAGE_MB, type Runtime } from "../functions/definition.js";
import type { Logger } from "../logger.js";
import type { Metrics } from "../metrics/metrics.js";
import { markDraining, parseContainerRecord, releaseContainer, reserveContainer, type ContainerRecord } from "../protocol/container-lifecycle.js";
import { outcomeOfError } from "../protocol/outcome.js";
import { decodeMessage, errorBody, errorResult, OUT_OF_MEMORY, outOfMemoryMessage, type InvocationMeta } from "../protocol/envelope.js";
import type { EventBus } from "../protocol/event-bus.js";
import type { HearthEvent } from "../protocol/events.js";
import { functionKeys, FUNCTIONS_INDEX, INVOKER_BEATS, invokerAliveKey } from "../protocol/keys.js";
import { pushReplies } from "../protocol/replies.js";
import { encodeSpecialization, stemKey } from "../protocol/stem-cells.js";
import { xackSources } from "../protocol/stream-sources.js";
import { logContainerLoss } from "./container-loss-log.js";
import { ContainerUsers } from "./container-users.js";
import type { ContainerBackend, ContainerExit, ContainerSpec } from "./docker-backend.js";
import type { HostCapacity } from "./host-capacity.js";
import { StemCells, type StemCell } from "./stem-cells.js";

/** How long stop() waits for Docker to remove a container it has stopped or that exited. */
const REMOVAL_TIMEOUT_MS = 10_000;
/** While work waits for room on the host, how often it looks again (a busy container may have become idle). */
const ROOM_RETRY_MS = 250;
/** After a start failed while other invokers are alive, how long this one leaves the function's work to them. */
const START_FAILURE_BACKOFF_MS = 1_000;

/** How long a lost invoker stays in INVOKER_BEATS (and in the metrics' count of lost ones). */
const LOST_INVOKERS_KEPT_MS = 60 * 60 * 1000;
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

interface Launched {
  function: string;
  memoryMb: number;
  dockerId?: string;
  /** Its runtime asked for work (the `ready` event): from then on an exit is a container dying, not a failed start. */
  ready: boolean;
  /** The stem cell it was made from: Docker knows it by the cell's id (its label). */
  stem?: StemCell;
}

interface Reserved {
  spec: ContainerSpec;
  stem?: StemCell;
}

interface ReleaseReason {
  errorType: string;
  message: string;
}

const CONTAINER_LOST: ReleaseReason = { errorType: "Hearth.ContainerExited", message: "the function's container exited while Redis could not be reached" };

export class Invoker {
  /** Containers this invoker started that have not exited, by Hearth container id. */
  private readonly launched = new Map<string, Launched>();
  /** Stem cell id → the id of the function container it became (Docker's exits carry the cell's id). */
  private readonly specializedStems = new Map<string, string>();
  readonly stemCells: StemCells;
  private readonly scaling = new Set<string>();
  private readonly scaleAgain = new Set<string>();
  /** Container starts under way, awaited by stop() so that none outlives it. */
  private readonly launches = new Set<Promise<void>>();
  private stopWatching?: () => void;
  private heartbeat?: NodeJS.Timeout;
  private draining = false;
  private onAllExited?: () => void;
  /** Exits being handled (their records released): stop() waits for them, as the last one's release outlasts its forget(). */
  private readonly exitsInHand = new Set<Promise<void>>();
  /** Functions whose queued work needs a container this host has no room for yet, oldest first. */
  private readonly waitingForRoom = new Set<string>();
  private roomTimer?: NodeJS.Timeout;
  /** Idle containers retired to make room, until they exit (Hearth container ids). */
  private readonly evicting = new Set<string>();
  /** Functions whose last container start failed here while other invokers were alive: until when it leaves their work to those. */
  private readonly backingOff = new Map<string, number>();
  /** Heartbeats in a row at which the Docker engine did not answer (checkEngine). */
  private engineSilentBeats = 0;
  /** Reservations one at a time, so that each sees what the one before it took of the host. */
  private reservations: Promise<unknown> = Promise.resolve();
  private readonly users: ContainerUsers;

  constructor(
    private readonly redis: RedisClient,
    private readonly backend: ContainerBackend,
    private readonly metrics: Metrics,
    private readonly logger: Logger,
    readonly invokerId: string,
    /** How often this invoker says it is alive and looks for containers of invokers that are not. */
    private readonly heartbeatMs: number,
    /** How long the record of an async invocation it fails is kept. */
    private readonly retentionMs: number,
    private readonly capacity: HostCapacity,
    stemCellTargets: Record<Runtime, number>,
  ) {
    this.users = new ContainerUsers(redis);
    this.stemCells = new StemCells(stemCellTargets, backend, this.users, capacity, invokerId, logger, () => !this.draining && this.waitingForRoom.size === 0);
  }

  async start(events: EventBus): Promise<void> {
    await this.beat();
    this.heartbeat = setInterval(
      () =>
        void this.beat()
          .then(() => this.releaseContainersOfDeadInvokers())
          .then(() => this.checkEngine())
          .then(() => this.scaleUpQueued())
          .catch((err) => this.logger.error({ err }, "heartbeat failed")),
      this.heartbeatMs,
    );
    await this.removeOrphans();
    this.stopWatching = await this.backend.watchExits(
      (exit) => {
        const handled = this.onExit(exit)
          .catch((err) => {
            // Redis away (a failover): the heartbeat's sweep releases the container's record once it is back.
            if (isRedisUnavailable(err)) this.logger.warn({ containerId: exit.containerId, err: (err as Error).message }, "a container exited while Redis was unavailable; its record is released by a later sweep");
            else this.logger.error({ err }, "handling a container exit failed");
          })
          .finally(() => this.exitsInHand.delete(handled));
        this.exitsInHand.add(handled);
      },
      (err) => this.logger.warn({ err }, "Docker event stream lost; resubscribing"),
    );
    events.on((event) => this.onEvent(event));
    this.stemCells.refill();
    // Work queued while no invoker ran has had no signal yet.
    for (const name of await this.redis.smembers(FUNCTIONS_INDEX)) this.scaleUp(name);
  }

  /** Stops taking work, lets busy containers finish their request, then stops everything it started. */
  async stop(timeoutMs: number): Promise<void> {
    this.draining = true;
    clearInterval(this.heartbeat);
    clearInterval(this.roomTimer);
    await Promise.all(this.launches);
    await this.stemCells.stop(REMOVAL_TIMEOUT_MS);
    const dockerIds = [...this.launched.values()].flatMap((container) => (container.dockerId ? [container.dockerId] : []));
    const byFunction = new Map<string, string[]>();
    for (const [containerId, { function: fn }] of this.launched) byFunction.set(fn, [...(byFunction.get(fn) ?? []), containerId]);
    // Idle ones are woken now, busy ones retire after their request, starting ones at their registration.
    for (const [fn, containerIds] of byFunction) await this.unlessRedisAway("marking containers draining", () => markDraining.run(this.redis, { keys: functionKeys(fn), containerIds }));
    if (this.launched.size > 0) {
      const allExited = new Promise<void>((resolve) => (this.onAllExited = resolve));
      await Promise.race([allExited, sleep(timeoutMs)]);
    }
    await Promise.all(this.exitsInHand);
    this.stopWatching?.();
    for (const [containerId, container] of this.launched) {
      if (container.dockerId) await this.backend.remove(container.dockerId);
      await this.unlessRedisAway("releasing a container record", () => this.release(container.function, containerId, "Hearth.InvokerStopped", "the invoker stopped while the request ran"));
    }
    this.launched.clear();
    // Exited is not yet removed: wait (bounded) until Docker has removed them all.
    const removed = await Promise.all(dockerIds.map((dockerId) => this.backend.waitRemoved(dockerId, REMOVAL_TIMEOUT_MS)));
    if (removed.includes(false)) this.logger.warn({ containers: removed.filter((done) => !done).length }, "Docker had not removed every container when the invoker stopped");
    await this.unlessRedisAway("leaving the invokers' list", () => Promise.all([this.redis.del(invokerAliveKey(this.invokerId)), this.redis.zrem(INVOKER_BEATS, this.invokerId)]));
  }

  /**
   * A Redis step of stopping, skipped while Redis is away (a failover) so that the containers are still
   * removed: the records it would release name an invoker whose alive key expires, and another
   * invoker's sweep releases them.
   */
  private async unlessRedisAway(what: string, step: () => Promise<unknown>): Promise<void> {
    try {
      await step();
    } catch (err) {
      if (!isRedisUnavailable(err)) throw err;
      this.logger.warn({ err: (err as Error).message }, `${what} failed while Redis was unavailable; another invoker's sweep does it`);
    }
  }

  /** The containers it started that Docker runs now, for their CPU and memory by function. */
  runningContainers(): Array<{ function: string; dockerId: string }> {
    return [...this.launched.values()].flatMap((container) => (container.dockerId ? [{ function: container.function, dockerId: container.dockerId }] : []));
  }

  /**
   * An engine that stops answering for three beats (as a lost invoker is judged) is taken for gone
   * with its containers: nobody will hear their exits, so their callers would wait for their timeouts
   * and their async invocations would stay in running lists. They are released (502, retries); any of
   * them still running loses its Redis user with the release, and exits.
   */
  private async checkEngine(): Promise<void> {
    if (await this.backend.ping()) {
      this.engineSilentBeats = 0;
      return;
    }
    this.engineSilentBeats += 1;
    if (this.engineSilentBeats < 3 || this.launched.size === 0) return;
    this.logger.error({ containers: this.launched.size }, "the Docker engine has not answered for three heartbeats: releasing its containers");
    for (const [containerId, { function: fn }] of [...this.launched]) {
      this.forget(containerId);
      await this.release(fn, containerId, "Hearth.ContainerExited", "the invoker's Docker engine stopped answering while the container ran the request");
    }
  }

  private async beat(): Promise<void> {
    const now = Date.now();
    // Sent in one tick: auto-pipelining makes the three one round trip.
    await Promise.all([
      this.redis.set(invokerAliveKey(this.invokerId), String(now), "PX", this.heartbeatMs * 3),
      this.redis.zadd(INVOKER_BEATS, now + this.heartbeatMs * 3, this.invokerId),
      this.redis.zremrangebyscore(INVOKER_BEATS, "-inf", now - LOST_INVOKERS_KEPT_MS),
    ]);
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
    // Their Redis users first (and any of this invoker's own whose container is gone: a removal that
    // failed): deleting one closes its connection, so that a container that outlived its invoker takes
    // no request after its record is released, where nobody would answer it.
    await this.users.removeWhere((invokerId, containerId) => (invokerId === this.invokerId ? !this.launched.has(containerId) && !this.stemCells.has(containerId) : isDead(invokerId)));
    // Then their records, and this invoker's own records of containers it no longer runs (isLost).
    await this.releaseRecordsWhere(async (record, containerId) => {
      if (record.invokerId === this.invokerId) return this.isLost(record, containerId) ? CONTAINER_LOST : undefined;
      return (await isDead(record.invokerId)) ? { errorType: "Hearth.InvokerLost", message: "the invoker running the function's container stopped answering" } : undefined;
    });
  }

  /**
   * Work queued with no signal heard: a `work` event is published once, and one published while this
   * process's event connection was reconnecting (a failover, a restart of Redis) is lost, leaving its
   * request queued until its timeout. Each beat looks at every function's queue (one LLEN each, sent in
   * one tick) and scales up those with work waiting; one that needs nothing more takes none.
   */
  private async scaleUpQueued(): Promise<void> {
    const names = await this.redis.smembers(FUNCTIONS_INDEX);
    const queued = await Promise.all(names.map((name) => this.redis.llen(functionKeys(name).queue)));
    names.forEach((name, i) => {
      if (queued[i]! > 0) this.scaleUp(name);
    });
  }

  /**
   * After a failover: the new master lacks the Redis users of this invoker's containers (ACL SETUSER
   * is not replicated) and the scripts they run; it may hold records this invoker could not release
   * while Redis was away; and work queued meanwhile has had no signal.
   */
  async onMasterChange(): Promise<void> {
    await this.users.restore();
    await this.releaseRecordsWhere((record, containerId) => (record.invokerId === this.invokerId && this.isLost(record, containerId) ? CONTAINER_LOST : undefined));
    for (const name of await this.redis.smembers(FUNCTIONS_INDEX)) this.scaleUp(name);
  }

  /**
   * A record of this invoker's of a container it no longer runs: its exit was heard while Redis could
   * not be reached (a failover, a restart), so its release failed. One changed within the last beat may
   * be a reservation whose answer is on its way (the invoker knows the container once it has it).
   */
  private isLost(record: ContainerRecord, containerId: string): boolean {
    return !this.launched.has(containerId) && Date.now() - record.since > this.heartbeatMs;
  }

  /** Releases the container records, of every function, that `reasonFor` gives a reason to. */
  private async releaseRecordsWhere(reasonFor: (record: ContainerRecord, containerId: string) => Promise<ReleaseReason | undefined> | ReleaseReason | undefined): Promise<void> {
    for (const fn of await this.redis.smembers(FUNCTIONS_INDEX)) {
      for (const [containerId, value] of Object.entries(await this.redis.hgetall(functionKeys(fn).containers))) {
        const record = parseContainerRecord(value);
        const reason = await reasonFor(record, containerId);
        if (!reason) continue;
        const { errorType, message } = reason;
        this.logger.warn({ function: fn, containerId, invokerId: record.invokerId, errorType }, "releasing a container record");
        await this.release(fn, containerId, errorType, message);
      }
    }
  }

  private onEvent(event: HearthEvent): void {
    switch (event.type) {
      case "work":
      // A new version starts the containers it keeps warm (minWarm).
      case "deployed":
        return this.scaleUp(event.function);
      case "ready": {
        const launched = this.launched.get(event.containerId);
        if (!launched) return;
        launched.ready = true;
        if (launched.stem) this.stemCells.specialized(launched.stem.stemId);
        this.metrics.observeColdStart(event.function, (event.timings.runtimeReadyAt - event.timings.createdAt) / 1000);
        return;
      }
    }
  }

  /** Reserves and starts containers while the function's queue needs them; concurrent calls coalesce. */
  private scaleUp(fn: string): void {
    if (this.draining) return;
    if ((this.backingOff.get(fn) ?? 0) > Date.now()) return;
    this.backingOff.delete(fn);
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
    while (!this.draining) {
      const reserved = await this.serialized(() => this.reserve(fn));
      if (!reserved) return;
      const launch = this.launch(reserved)
        .catch((err) => this.logger.error({ err, function: fn }, "launching a container failed"))
        .finally(() => this.launches.delete(launch));
      this.launches.add(launch);
    }
  }

  private serialized<T>(step: () => Promise<T>): Promise<T> {
    const result = this.reservations.then(step);
    this.reservations = result.catch(() => undefined);
    return result;
  }

  /**
   * Claims one container of the function if its work needs one and the host has room; holds that room
   * at once. A stem cell's room counts as free: the function takes the cell, or the cell is removed.
   */
  private async reserve(fn: string): Promise<Reserved | undefined> {
    const keys = functionKeys(fn);
    const containerId = randomBytes(6).toString("hex");
    const createdAt = Date.now();
    const free = this.capacity.free();
    const spare = this.stemCells.spareRoom();
    const reservation = await reserveContainer.run(this.redis, { keys, containerId, invokerId: this.invokerId, now: createdAt, freeContainers: free.containers + spare.containers, freeMemoryMb: free.memoryMb + spare.memoryMb });
    if (reservation.kind === "none") {
      this.waitingForRoom.delete(fn);
      return undefined;
    }
    if (reservation.kind === "full") {
      await this.noRoom(fn, reservation.memoryMb);
      return undefined;
    }
    const { version, codeSha, runtime, memoryMb } = reservation.container;
    const spec: ContainerSpec = { containerId, function: fn, version, codeSha, runtime, memoryMb, ephemeralStorageMb: reservation.container.ephemeralStorageMb ?? DEFAULT_EPHEMERAL_STORAGE_MB, network: reservation.container.network ?? "none", createdAt };
    this.waitingForRoom.delete(fn);
    const stem = this.stemCells.take(spec);
    const needed = this.capacity.free();
    if (!stem && (needed.containers < 1 || needed.memoryMb < memoryMb)) this.stemCells.discardOne();
    this.capacity.hold(containerId, memoryMb);
    this.launched.set(containerId, { function: fn, memoryMb, ready: false, stem, dockerId: stem?.dockerId });
    if (stem) this.specializedStems.set(stem.stemId, containerId);
    return { spec, stem };
  }

  /**
   * The function's work needs a container this host has no room for. One larger than the host's whole
   * memory never will have: its queued callers hear it now. Otherwise the work waits for room, and an
   * idle container of another function, the one idle longest, is retired to make some.
   */
  private async noRoom(fn: string, memoryMb: number): Promise<void> {
    if (this.capacity.neverFits(memoryMb)) {
      this.waitingForRoom.delete(fn);
      const message = `function ${fn} needs ${memoryMb} MB of memory, more than this invoker's host allows for all its containers (HEARTH_MAX_MEMORY_MB=${this.capacity.limits.maxMemoryMb})`;
      // No container of that id exists: the release only fails the queued work when the function has none.
      await this.release(fn, randomBytes(6).toString("hex"), "Hearth.InsufficientCapacity", message, { failQueued: true });
      return;
    }
    this.waitingForRoom.add(fn);
    this.roomTimer ??= setInterval(() => this.retryWaiting(), ROOM_RETRY_MS);
    // Stem cells go first: their room is free at once, and they serve nobody yet.
    if (this.stemCells.discardOne()) return this.scaleUp(fn);
    await this.evictIdleContainer(fn);
  }

  private retryWaiting(): void {
    if (this.waitingForRoom.size === 0 || this.draining) {
      clearInterval(this.roomTimer);
      this.roomTimer = undefined;
      return;
    }
    for (const fn of this.waitingForRoom) this.scaleUp(fn);
  }

  /**
   * Retires this invoker's least recently used (longest idle) container of a function other than `fn` (marked
   * draining, woken), unless one is already on its way out. Its exit makes the room. Containers a
   * function keeps warm (`minWarm`) are not taken.
   */
  private async evictIdleContainer(fn: string): Promise<void> {
    if (this.evicting.size > 0) return;
    let oldest: { fn: string; containerId: string; since: number } | undefined;
    for (const other of new Set([...this.launched.values()].map((launched) => launched.function))) {
      if (other === fn) continue;
      const keys = functionKeys(other);
      const [[version, minWarm], records] = await Promise.all([this.redis.hmget(keys.def, "version", "minWarm"), this.redis.hgetall(keys.containers)]);
      const current = Object.values(records).filter((value) => String(parseContainerRecord(value).version) === version).length;
      if (current <= Number(minWarm ?? 0)) continue;
      for (const [containerId, value] of Object.entries(records)) {
        const record = parseContainerRecord(value);
        if (record.state !== "idle" || !this.launched.has(containerId)) continue;
        if (!oldest || record.since < oldest.since) oldest = { fn: other, containerId, since: record.since };
      }
    }
    if (!oldest) return;
    // Woken now; one that took work since it was read retires after that request.
    await markDraining.run(this.redis, { keys: functionKeys(oldest.fn), containerIds: [oldest.containerId] });
    this.evicting.add(oldest.containerId);
    this.metrics.countEviction();
    this.logger.info({ function: oldest.fn, containerId: oldest.containerId, for: fn }, "retiring an idle container to make room");
  }

  private async launch({ spec, stem }: Reserved): Promise<void> {
    if (this.draining) {
      this.forget(spec.containerId);
      if (stem?.dockerId) await this.backend.remove(stem.dockerId);
      await this.release(spec.function, spec.containerId, "Hearth.InvokerStopped", "the invoker is stopping");
      return;
    }
    const launched = this.launched.get(spec.containerId)!;
    try {
      const credentials = await this.users.create(this.invokerId, spec.containerId, spec.function);
      if (stem) await this.specialize(spec, stem, credentials);
      else launched.dockerId = await this.backend.start(spec, credentials);
      this.logger.debug({ function: spec.function, containerId: spec.containerId, stemId: stem?.stemId }, "container started");
    } catch (err) {
      if (stem?.dockerId) await this.backend.remove(stem.dockerId).catch(() => undefined);
      this.logger.error({ err, function: spec.function }, "container failed to start");
      this.forget(spec.containerId);
      const message = `could not start a container for ${spec.function}: ${(err as Error).message}`;
      // The failure may be this host's alone (its engine is down, an image is missing here): while other
      // invokers are alive, the queued callers wait for them instead of hearing it, and this invoker
      // stands aside for a moment (its own next try would likely fail the same way, and win the race).
      const othersAlive = await this.otherInvokersAlive();
      if (othersAlive) this.backOff(spec.function);
      await this.release(spec.function, spec.containerId, "Hearth.ContainerStartFailed", message, { failQueued: !othersAlive });
    }
  }

  /**
   * Hands a stem cell its function: its memory limit set to the function's, then the function, version,
   * code and the function's Redis user pushed to its stem key. The cell's own user goes at its `ready`
   * (deleting it now could close the connection before the hand-over reached it).
   */
  private async specialize(spec: ContainerSpec, stem: StemCell, credentials: { username: string; password: string }): Promise<void> {
    if (spec.memoryMb !== stem.memoryMb) await this.backend.resize(stem.dockerId!, spec.memoryMb);
    await this.backend.placeCode(stem.stemId, spec.function, spec.codeSha);
    const { function: fn, version, codeSha, containerId, createdAt } = spec;
    await this.redis.rpush(stemKey(stem.stemId), encodeSpecialization({ function: fn, version, codeSha, containerId, createdAt, ...credentials }));
  }

  private async otherInvokersAlive(): Promise<boolean> {
    const alive = await this.redis.zrangebyscore(INVOKER_BEATS, Date.now(), "+inf");
    return alive.some((invokerId) => invokerId !== this.invokerId);
  }

  /** Leaves the function's work to other invokers for a moment, then looks at it again. */
  private backOff(fn: string): void {
    this.backingOff.set(fn, Date.now() + START_FAILURE_BACKOFF_MS);
    setTimeout(() => this.scaleUp(fn), START_FAILURE_BACKOFF_MS + 10).unref();
  }

  private async onExit(exit: ContainerExit): Promise<void> {
    // A stem cell that served no function yet is replaced; one that became a function's container is that container.
    if (this.stemCells.exited(exit.containerId)) return;
    const containerId = this.specializedStems.get(exit.containerId) ?? exit.containerId;
    const launched = this.launched.get(containerId);
    if (!launched || !this.forget(containerId)) return;
    const fn = launched.function;
    if (exit.outOfMemory) {
      await this.redis.hincrby(functionKeys(fn).stats, "outOfMemory", 1);
      const message = outOfMemoryMessage(fn, launched.memoryMb);
      if (launched.ready) return this.release(fn, containerId, OUT_OF_MEMORY, message);
      return this.release(fn, containerId, "Hearth.ContainerStartFailed", `${message} before its container was ready`, { failQueued: true });
    }
    const cause = exit.exitCode === 137 ? "was killed" : `exited with code ${exit.exitCode}`;
    if (!launched.ready && exit.exitCode !== 0) {
      // It failed before it could serve (it cannot reach Redis, its code does not unpack, …): starting
      // another would fail the same way, so the queued callers hear it now instead of at their timeout.
      // (Exit code 0 before ready is a container whose function was redeployed meanwhile.)
      const message = `the function's container ${cause} before it was ready; see the invoker's and the container's logs`;
      await this.release(fn, containerId, "Hearth.ContainerStartFailed", message, { failQueued: true });
      return;
    }
    await this.release(fn, containerId, "Hearth.ContainerExited", `the function's container ${cause} while it ran the request`);
  }

  private forget(containerId: string): boolean {
    const stemId = this.launched.get(containerId)?.stem?.stemId;
    if (stemId) {
      this.specializedStems.delete(stemId);
      // A hand-over the cell never read (it died first); read, the list is gone already.
      this.redis.del(stemKey(stemId)).catch((err) => this.logger.warn({ err, stemId }, "deleting a stem key failed"));
    }
    const known = this.launched.delete(containerId);
    this.evicting.delete(containerId);
    if (this.capacity.give(containerId)) {
      this.retryWaiting();
      this.stemCells.refill();
    }
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
    const { orphaned, failed, sources } = await releaseContainer.run(this.redis, {
      keys: functionKeys(fn),
      fn,
      containerId,
      failQueuedWhenPoolEmpty: options.failQueued,
      now: Date.now(),
      retentionMs: this.retentionMs,
      result: errorBody(errorType, message),
      outcome: outcomeOfError(502, errorType),
    });
    await this.answer(orphaned, 502, errorType, message);
    await this.answer(failed, 503, errorType, message);
    await xackSources(() => this.redis, sources).catch((err) => this.logger.warn({ err, function: fn }, "acknowledging a stream entry failed; the stream's reader will when it claims it"));
    if (orphaned.length > 0) await logContainerLoss(this.redis, fn, orphaned, message).catch((err) => this.logger.warn({ err, function: fn }, "writing a log line failed"));
  }

  private async answer(envelopes: Buffer[], status: number, errorType: string, message: string): Promise<void> {
    await Promise.all(
      envelopes.map((raw) => {
        const { meta } = decodeMessage<InvocationMeta>(raw);
        return pushReplies(this.redis, meta.replyTo, [errorResult(meta.id, meta.function, status, errorType, message)]);
      }),
    );
  }

  /** Containers left by an earlier run of this invoker: remove them and forget their Redis records. */
  private async removeOrphans(): Promise<void> {
    await this.backend.removeLeftovers();
    await this.users.removeWhere((invokerId) => invokerId === this.invokerId);
    await this.releaseRecordsWhere(({ invokerId }) =>
      invokerId === this.invokerId ? { errorType: "Hearth.ContainerExited", message: "the invoker restarted while the request ran" } : undefined,
    );
  }
}
