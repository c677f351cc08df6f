import { Cluster, type Redis } from "ioredis";
import { StopSignal, type RedisClient } from "../redis/connections.js";
import type { HearthError } from "../errors.js";
import type { Logger } from "../logger.js";
import { decodeMessage, type Message, type ResultMeta } from "../protocol/envelope.js";
import { repliesKey } from "../protocol/keys.js";

/**
 * Results for this gateway process arrive on one list, read by one blocked connection, however many
 * requests are in flight; each is handed to the request that waits for its id.
 */
export class ReplyRouter {
  private readonly waiting = new Map<string, { function: string; deliver(result: Message<ResultMeta>): void; fail(error: HearthError): void; timer: NodeJS.Timeout }>();
  private stopped = false;
  private readonly stopSignal = new StopSignal();
  private loop?: Promise<void>;

  constructor(
    private readonly redis: RedisClient,
    readonly gatewayId: string,
    private readonly logger: Logger,
    /**
     * With Sentinel or a Cluster: a result pushed to a master that fails is lost with it, so when the
     * connection drops, the requests in flight are answered at once (they may have run) instead of at
     * their timeout. One node keeps its results (append-only file): they are read once it is back.
     */
    abandonOnDisconnect?: HearthError,
  ) {
    if (!abandonOnDisconnect) return;
    if (redis instanceof Cluster) {
      // A Cluster client drops a node's connection once it is lost (it makes a new one to its successor).
      redis.on("-node", (node: Redis) => {
        if (!node.options.readOnly) this.abandonAll(abandonOnDisconnect);
      });
      return;
    }
    // Once per lost connection, not again at each failed reconnect (requests queued meanwhile are on the new master).
    let connected = false;
    redis.on("ready", () => (connected = true));
    redis.on("close", () => {
      if (connected) this.abandonAll(abandonOnDisconnect);
      connected = false;
    });
  }

  start(): void {
    this.loop = this.readReplies();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.stopSignal.stop();
    this.redis.disconnect();
    await this.loop;
  }

  /** Resolves with the result for `id` from function `fn`, or undefined after timeoutMs; rejects if abandoned. */
  waitFor(id: string, fn: string, timeoutMs: number): Promise<Message<ResultMeta> | undefined> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(id);
        resolve(undefined);
      }, timeoutMs);
      this.waiting.set(id, {
        function: fn,
        timer,
        deliver: (result) => {
          clearTimeout(timer);
          this.waiting.delete(id);
          resolve(result);
        },
        fail: (error) => {
          clearTimeout(timer);
          this.waiting.delete(id);
          reject(error);
        },
      });
    });
  }

  /** Stops waiting for `id` (its request was never queued); its waitFor promise is dropped unsettled. */
  cancel(id: string): void {
    const waiter = this.waiting.get(id);
    if (!waiter) return;
    clearTimeout(waiter.timer);
    this.waiting.delete(id);
  }

  /** Answers every waiting request with `error`: their results may be lost (a failover), or never come. */
  private abandonAll(error: HearthError): void {
    for (const waiter of [...this.waiting.values()]) waiter.fail(error);
  }

  get inFlight(): number {
    return this.waiting.size;
  }

  private async readReplies(): Promise<void> {
    const key = repliesKey(this.gatewayId);
    while (!this.stopped) {
      try {
        const popped = (await this.stopSignal.race(this.redis.blmpopBuffer(0, 1, key, "LEFT", "COUNT", 512))) as [Buffer, Buffer[]] | null;
        for (const raw of popped?.[1] ?? []) this.deliver(raw);
        // Let the waiters answer their callers before the next BLMPOP is written: its socket write
        // would otherwise come first, on every request's way out (see BENCHMARKS.md).
        if (popped) await new Promise((resolve) => setImmediate(resolve));
      } catch (error) {
        if (this.stopped) return;
        this.logger.error({ err: error }, "reading replies failed; retrying");
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    }
  }

  private deliver(raw: Buffer): void {
    const result = decodeMessage<ResultMeta>(raw);
    const waiter = this.waiting.get(result.meta.id);
    // No waiter: the caller already got a timeout. Another function's answer is not this request's
    // (a forged reply needs its id, a random UUID, and the function's name as well).
    if (waiter?.function === result.meta.function) waiter.deliver(result);
  }
}
