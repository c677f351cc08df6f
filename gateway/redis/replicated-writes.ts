import { HearthError } from "../errors.js";
import { connectionForKey, type RedisClient } from "./connections.js";

/**
 * Writes whose answer promises they survive a failover (an async invocation's 202): made on a
 * connection of their own, then confirmed with WAIT, which holds that connection until the replicas
 * have everything it wrote (another connection's commands would wait behind it). With a Cluster, the
 * WAIT goes to the master the write went to: that of the written key's slot.
 */
export class ReplicatedWrites {
  constructor(
    /** The connection to write on; with no replicas to wait for, the shared one. */
    readonly connection: RedisClient,
    private readonly replicas: number,
    private readonly timeoutMs: number,
  ) {}

  /** Resolves once `replicas` replicas have this connection's writes to `key`'s slot; 503 if they do not within the timeout. */
  async confirm(what: string, key: string): Promise<void> {
    if (this.replicas === 0) return;
    const node = connectionForKey(this.connection, key);
    const acknowledged = node ? await node.wait(this.replicas, this.timeoutMs).catch(() => 0) : 0;
    if (acknowledged >= this.replicas) return;
    throw new HearthError(
      503,
      "Hearth.Unavailable",
      `${what} is on the Redis master but ${acknowledged} of the ${this.replicas} replica(s) it waits for had it within ${this.timeoutMs} ms, so a failover now could lose it; it may still run`,
    );
  }
}
