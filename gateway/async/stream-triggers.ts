// Invokes functions for the entries of the Redis Streams they are subscribed to. Every API process
// runs one, with a reader per subscription: a connection of its own blocked in XREADGROUP on the
// function's group, that accepts each entry as an async invocation (idempotency key
// `stream:<function>:<stream>:<entry id>`, the entry as its source). Whoever makes the invocation final
// (the container that settles it, the invoker that releases a dead container, a cancel) XACKs the
// entry after the script that did it, so an entry stays pending until then. Entries read but never accepted (a
// process stopped or died in between, or accept failed) are found again: the reader's own at its
// start, anyone's once idle for claimIdleMs (XAUTOCLAIM). Accepting one twice is harmless: the
// idempotency key answers with the first invocation.

import { HearthError } from "../errors.js";
import type { Logger } from "../logger.js";
import { functionKeys, FUNCTIONS_INDEX, streamGroup } from "../protocol/keys.js";
import { connectRedis, StopSignal, type RedisClient, type RedisTarget } from "../redis/connections.js";
import { streamEntryKey, type AsyncInvocations } from "./async-invocations.js";
import { restoreGroup } from "./stream-subscriptions.js";

/** Statuses after which an invocation's entry is acknowledged ("expired": its record is gone). */
const FINAL_STATUSES = new Set(["succeeded", "failed", "dead-lettered", "cancelled", "expired"]);
/** Entries read (and accepted, in one pipeline) at a time. */
const BATCH = 100;
/** How long a reader waits after accept failed (a full queue: 429) before it reads that subscription again. */
const PAUSE_MS = 1_000;

/** The caller of stream-triggered invocations (HTTP callers are "anonymous" or "key:<id>"). */
const STREAM_TRIGGER_CALLER = "stream-trigger";

/** What the function receives for each entry. */
interface StreamEvent {
  stream: string;
  id: string;
  fields: Record<string, string>;
}

export interface StreamTriggerOptions {
  redis: RedisTarget;
  /** This process's consumer name in every group; stable across restarts, so it finds its own pending entries. */
  consumer: string;
  /** Entries pending this long without being settled are claimed, and accepted again (a no-op if they were). */
  claimIdleMs: number;
}

type Entry = [id: string, fields: string[] | null];

export class StreamTriggers {
  private readonly readers = new Map<string, StreamReader>();
  /** One refresh per function at a time, in the order they were asked for. */
  private readonly refreshing = new Map<string, Promise<void>>();
  private sweeper?: NodeJS.Timeout;
  private stopped = false;

  constructor(
    private readonly redis: RedisClient,
    private readonly invocations: AsyncInvocations,
    private readonly options: StreamTriggerOptions,
    private readonly logger: Logger,
  ) {}

  /** Starts a reader for every subscription now; looks again every sweepMs for changes whose event was missed. */
  start(sweepMs: number): void {
    const sweep = (): void =>
      void this.redis
        .smembers(FUNCTIONS_INDEX)
        .then((names) => new Set([...names, ...[...this.readers.values()].map((reader) => reader.fn)]).forEach((fn) => this.refresh(fn)))
        .catch((err) => this.logger.error({ err }, "looking for stream subscriptions failed"));
    sweep();
    this.sweeper = setInterval(sweep, sweepMs);
  }

  /** Starts and stops the function's readers to match its subscriptions (on `streams` and `deleted` events). */
  refresh(fn: string): void {
    if (this.stopped) return;
    const next = (this.refreshing.get(fn) ?? Promise.resolve())
      .then(() => this.matchSubscriptions(fn))
      .catch((err) => this.logger.error({ err, function: fn }, "refreshing stream readers failed"))
      .finally(() => this.refreshing.get(fn) === next && this.refreshing.delete(fn));
    this.refreshing.set(fn, next);
  }

  /** Stops every reader: blocked reads are cut off, accepts in flight finish. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.sweeper);
    await Promise.all(this.refreshing.values());
    await Promise.all([...this.readers.values()].map((reader) => reader.stop()));
    this.readers.clear();
  }

  private async matchSubscriptions(fn: string): Promise<void> {
    const streams = new Set(await this.redis.hkeys(functionKeys(fn).streams));
    if (this.stopped) return;
    for (const [key, reader] of this.readers) {
      if (reader.fn !== fn || streams.has(reader.stream)) continue;
      this.readers.delete(key);
      await reader.stop();
    }
    for (const stream of streams) {
      const key = `${fn}\n${stream}`;
      if (this.readers.has(key)) continue;
      const reader = new StreamReader(fn, stream, this.redis, this.invocations, this.options, this.logger.child({ function: fn, stream }));
      this.readers.set(key, reader);
      reader.start();
    }
  }
}

/** Reads one subscription: its own pending entries first, then new ones, and now and then idle ones of anyone's. */
class StreamReader {
  private readonly connection: RedisClient;
  private readonly group: string;
  private loop?: Promise<void>;
  private stopped = false;
  private readonly stopSignal = new StopSignal();
  private wake?: () => void;
  /** Own pending entries up to this id are known to be accepted; `rescan` reads those after it. */
  private cursor = "0";
  private rescan = true;
  private nextClaimAt = 0;

  constructor(
    readonly fn: string,
    readonly stream: string,
    private readonly redis: RedisClient,
    private readonly invocations: AsyncInvocations,
    private readonly options: StreamTriggerOptions,
    private readonly logger: Logger,
  ) {
    this.group = streamGroup(fn);
    // Blocking reads need a connection of their own: a blocked command holds up whatever is sent after it.
    this.connection = connectRedis(options.redis, "hearth-stream-reader", { enableAutoPipelining: false });
    this.connection.on("error", () => undefined); // reconnects on its own; failed reads are logged by the loop
  }

  start(): void {
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.stopSignal.stop();
    this.connection.disconnect();
    this.wake?.();
    await this.loop;
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      try {
        if (Date.now() >= this.nextClaimAt) await this.claimIdleEntries();
        else if (this.rescan) await this.readOwnPending();
        else await this.readNew();
      } catch (error) {
        if (this.stopped) return;
        // The group is gone (NOGROUP), or went while this read was blocked (UNBLOCKED): the stream was
        // deleted, or the subscription removed.
        if (error instanceof Error && /^(NOGROUP|UNBLOCKED)/.test(error.message)) await this.restoreGroup();
        else this.logger.warn({ err: error }, "reading the stream failed; trying again in a second");
        await this.pause();
      }
    }
  }

  /** Entries delivered to this consumer earlier (before a restart, or before accept failed). */
  private async readOwnPending(): Promise<void> {
    const entries = await this.read(this.cursor);
    if (entries.length === 0) {
      this.rescan = false;
      return;
    }
    await this.acceptInOrder(entries);
  }

  private async readNew(): Promise<void> {
    // Blocks until entries come, or until the next claim is due.
    const entries = await this.read(">", Math.max(1, this.nextClaimAt - Date.now()));
    await this.acceptInOrder(entries);
  }

  /** Takes over entries pending longer than claimIdleMs (their reader died), from the oldest. */
  private async claimIdleEntries(): Promise<void> {
    this.nextClaimAt = Date.now() + this.options.claimIdleMs;
    let start = "0-0";
    do {
      const answer = await this.stopSignal.race(this.connection.xautoclaim(this.stream, this.group, this.options.consumer, this.options.claimIdleMs, start, "COUNT", BATCH));
      if (!answer) return;
      const [next, claimed] = answer as [string, Entry[]];
      // One that is not accepted now stays pending, idle again, for the next claim.
      if ((await this.accept(claimed)) < claimed.length) return this.pause();
      start = next;
    } while (start !== "0-0" && !this.stopped);
  }

  private async read(from: string, blockMs?: number): Promise<Entry[]> {
    const block = blockMs === undefined ? [] : ["BLOCK", blockMs];
    const reply = (await this.stopSignal.race(this.connection.call("XREADGROUP", "GROUP", this.group, this.options.consumer, "COUNT", BATCH, ...block, "STREAMS", this.stream, from))) as
      | Array<[string, Entry[]]>
      | null;
    return reply?.[0]?.[1] ?? [];
  }

  /**
   * Accepts entries of this consumer in id order. After a failure the cursor stays at the last entry
   * accepted before it, and the reader reads its own pending entries from there after a pause.
   */
  private async acceptInOrder(entries: Entry[]): Promise<void> {
    const accepted = await this.accept(entries);
    if (accepted > 0) this.cursor = entries[accepted - 1]![0];
    if (accepted === entries.length) return;
    this.rescan = true;
    await this.pause();
  }

  /** Accepts entries together (one pipeline); resolves with how many from the first were accepted. */
  private async accept(entries: Entry[]): Promise<number> {
    const outcomes = await Promise.allSettled(entries.map(([id, fields]) => this.acceptEntry(id, fields)));
    const failed = outcomes.findIndex((outcome) => outcome.status === "rejected");
    if (failed === -1) return entries.length;
    const error = (outcomes[failed] as PromiseRejectedResult).reason as unknown;
    if (error instanceof HearthError && error.status === 429) this.logger.debug("the function's async queue is full; reading again in a second");
    else this.logger.warn({ err: error, entry: entries[failed]![0] }, "accepting a stream entry failed; trying again in a second");
    return failed;
  }

  private async acceptEntry(id: string, flat: string[] | null): Promise<void> {
    // Deleted from the stream (XDEL, trimming) while pending: nothing to run; XAUTOCLAIM drops it.
    if (flat === null) return;
    const fields: Record<string, string> = {};
    for (let i = 0; i + 1 < flat.length; i += 2) fields[flat[i]!] = flat[i + 1]!;
    const event: StreamEvent = { stream: this.stream, id, fields };
    const accepted = await this.invocations.accept(this.fn, Buffer.from(JSON.stringify(event)), {
      caller: STREAM_TRIGGER_CALLER,
      integration: "json",
      idempotencyKey: streamEntryKey(this.fn, this.stream, id),
      source: { stream: this.stream, group: this.group, entry: id },
    });
    // Its invocation made final and the entry still pending: the XACK after the script that made it
    // final was lost (that process died in between, or its container's Redis user may not write this
    // stream, subscribed after the container started). This does it.
    if (accepted.duplicate && FINAL_STATUSES.has((await this.invocations.get(accepted.id))?.status ?? "expired")) {
      await this.redis.xack(this.stream, this.group, id);
    }
  }

  /** The stream was deleted, and its group with it: recreated while the subscription stands. */
  private async restoreGroup(): Promise<void> {
    const restored = await restoreGroup(this.redis, this.fn, this.stream);
    if (restored) {
      this.logger.warn("the stream's consumer group was gone; recreated it from the stream's first entry");
      this.cursor = "0";
    }
  }

  private pause(): Promise<void> {
    if (this.stopped) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, PAUSE_MS);
      this.wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }
}
