// Watches the containers of the bench's invoker: Docker's create and start events (for the
// cold-start split) and the adapters' `ready` events on Redis (their own timings), by Hearth container id.

import type Docker from "dockerode";
import type { Redis } from "ioredis";
import { LABELS, onDockerEvents, type DockerEvent } from "../../gateway/invoker/docker-backend.js";
import type { ColdStartTimings } from "../../gateway/protocol/envelope.js";
import { parseEvent } from "../../gateway/protocol/events.js";
import { EVENTS_CHANNEL } from "../../gateway/protocol/keys.js";
import { sleep } from "./hearth-api.js";

export interface ContainerHistory {
  containerId: string;
  function: string;
  dockerId?: string;
  /** Epoch ms (from Docker's nanosecond times) of each Docker event. */
  createdAt?: number;
  startedAt?: number;
  /** What the adapter published when its runtime was ready. */
  ready?: ColdStartTimings;
}

export class ContainerMonitor {
  readonly history = new Map<string, ContainerHistory>();
  private stream?: NodeJS.ReadableStream & { destroy(): void };
  private changed: Array<() => void> = [];

  constructor(
    private readonly docker: Docker,
    private readonly subscriber: Redis,
    readonly invokerId: string,
  ) {}

  async start(): Promise<void> {
    this.subscriber.on("message", (_channel: string, message: string) => {
      const event = parseEvent(message);
      if (event?.type !== "ready") return;
      const entry = this.entry(event.containerId, event.function);
      entry.ready = event.timings;
      this.notify();
    });
    await this.subscriber.subscribe(EVENTS_CHANNEL);
    const stream = (await this.docker.getEvents({
      filters: { type: ["container"], event: ["create", "start"], label: [`${LABELS.invoker}=${this.invokerId}`] },
    })) as NodeJS.ReadableStream & { destroy(): void };
    this.stream = stream;
    onDockerEvents(stream, (event) => this.onDockerEvent(event));
    stream.on("error", () => undefined);
  }

  stop(): void {
    this.stream?.destroy();
    this.subscriber.disconnect();
  }

  /** Resolves with what `check` returns once it is defined (checked on every event), or undefined after timeoutMs. */
  async waitFor<T>(check: () => T | undefined, timeoutMs: number): Promise<T | undefined> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const value = check();
      if (value !== undefined) return value;
      const left = until - Date.now();
      if (left <= 0) return undefined;
      await Promise.race([new Promise<void>((resolve) => this.changed.push(resolve)), sleep(Math.min(left, 100))]);
    }
  }

  /** Docker ids of the bench's containers (of one function), running or not. */
  async list(fn?: string): Promise<string[]> {
    const labels = [`${LABELS.invoker}=${this.invokerId}`, ...(fn ? [`${LABELS.function}=${fn}`] : [])];
    const containers = await this.docker.listContainers({ all: true, filters: { label: labels } });
    return containers.map((info) => info.Id);
  }

  async waitGone(fn: string, timeoutMs = 60_000): Promise<void> {
    for (const until = Date.now() + timeoutMs; Date.now() < until; await sleep(50)) {
      if ((await this.list(fn)).length === 0) return;
    }
    throw new Error(`the containers of ${fn} were not removed within ${timeoutMs / 1000} s`);
  }

  /** The safety net: removes whatever container of the bench's invoker is left. */
  async removeAll(): Promise<number> {
    const left = await this.list();
    for (const id of left) await this.docker.getContainer(id).remove({ force: true }).catch(() => undefined);
    return left.length;
  }

  private onDockerEvent(event: DockerEvent): void {
    const attributes = event.Actor?.Attributes ?? {};
    const containerId = attributes[LABELS.container];
    const fn = attributes[LABELS.function];
    if (!containerId || !fn) return;
    const entry = this.entry(containerId, fn);
    entry.dockerId = event.Actor?.ID ?? entry.dockerId;
    const at = event.timeNano ? event.timeNano / 1e6 : (event.time ?? 0) * 1000;
    if (event.Action === "create") entry.createdAt = at;
    else if (event.Action === "start") entry.startedAt = at;
    this.notify();
  }

  private entry(containerId: string, fn: string): ContainerHistory {
    let entry = this.history.get(containerId);
    if (!entry) {
      entry = { containerId, function: fn };
      this.history.set(containerId, entry);
    }
    return entry;
  }

  private notify(): void {
    for (const resolve of this.changed.splice(0)) resolve();
  }
}
