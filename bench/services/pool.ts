// Warm no-op functions by container count (`noop-N`, maxContainers N, N warm containers), deployed
// once and shared by the sections that need that many containers.

import type { Stack } from "./stack.js";

export class WarmPool {
  private readonly deployed = new Set<string>();

  constructor(private readonly stack: Stack) {}

  /** The function with `containers` warm, idle containers. */
  async get(containers: number): Promise<string> {
    const name = `noop-${containers}`;
    if (!this.deployed.has(name)) {
      await this.stack.api.deploy(name, { maxContainers: containers, keepAlive: 3600, timeout: 30, memory: 256 });
      this.deployed.add(name);
    }
    const { containers: pool } = await this.stack.api.status(name);
    if (pool.idle < containers) await this.stack.api.prewarm(name, containers);
    return name;
  }

  /** Docker ids of a pool function's containers. */
  dockerIds(name: string): Promise<string[]> {
    return this.stack.containers.list(name);
  }

  /** Deletes every pool function and waits until their containers are removed. */
  async clear(): Promise<void> {
    for (const name of this.deployed) {
      await this.stack.api.remove(name);
      await this.stack.containers.waitGone(name);
    }
    this.deployed.clear();
  }
}
