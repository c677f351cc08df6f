import type { RedisClient } from "../redis/connections.js";
import type { FunctionDefinition } from "./definition.js";
import { getFunction } from "./registry.js";

/**
 * Definitions the gateway needs on every request, kept in memory. Deploy and delete events drop
 * entries; a missed event is caught by enqueue-invocation.lua, which rejects a stale version.
 */
export class FunctionCache {
  private readonly entries = new Map<string, Promise<FunctionDefinition | undefined>>();

  constructor(private readonly redis: RedisClient) {}

  get(name: string): Promise<FunctionDefinition | undefined> {
    let entry = this.entries.get(name);
    if (!entry) {
      entry = getFunction(this.redis, name);
      this.entries.set(name, entry);
      entry.then(
        (definition) => definition === undefined && this.entries.get(name) === entry && this.entries.delete(name),
        () => this.entries.get(name) === entry && this.entries.delete(name),
      );
    }
    return entry;
  }

  invalidate(name: string): void {
    this.entries.delete(name);
  }
}
