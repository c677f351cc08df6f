import type { RedisClient } from "../redis/connections.js";
import type { Logger } from "../logger.js";
import { parseEvent, type HearthEvent } from "./events.js";
import { EVENTS_CHANNEL } from "./keys.js";

type Listener = (event: HearthEvent) => void;

/** One pub/sub connection per process, fanned out to the components that listen. */
export class EventBus {
  private readonly listeners: Listener[] = [];

  constructor(
    private readonly subscriber: RedisClient,
    private readonly logger: Logger,
  ) {
    subscriber.on("message", (_channel: string, message: string) => this.dispatch(message));
  }

  async start(): Promise<void> {
    await this.subscriber.subscribe(EVENTS_CHANNEL);
  }

  async stop(): Promise<void> {
    await this.subscriber.quit().catch(() => this.subscriber.disconnect());
  }

  on(listener: Listener): void {
    this.listeners.push(listener);
  }

  private dispatch(message: string): void {
    const event = parseEvent(message);
    if (!event) return this.logger.warn({ message }, "unknown event");
    for (const listener of this.listeners) listener(event);
  }
}
