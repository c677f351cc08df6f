// Wakes up per function when its next piece of delayed work (a retry, a callback) is due. The scripts
// that schedule such work publish `due f at`; every process keeps one timer per function for the
// earliest time it knows of, so nothing polls. A slow sweep catches events missed while the event
// connection was down.

import type { Logger } from "../logger.js";

/** Runs the due work of a function; resolves with when its next work is due (undefined: none). */
export type DueWork = (fn: string) => Promise<number | undefined>;

export class DueTimers {
  private readonly timers = new Map<string, { at: number; timer: NodeJS.Timeout }>();
  private readonly running = new Map<string, Promise<void>>();
  private readonly again = new Set<string>();
  private sweeper?: NodeJS.Timeout;
  private stopped = false;

  constructor(
    private readonly work: DueWork,
    private readonly logger: Logger,
  ) {}

  /** Runs every function's due work now, then again every sweepMs. */
  start(functions: () => Promise<string[]>, sweepMs: number): void {
    const sweep = (): void =>
      void functions()
        .then((names) => names.forEach((fn) => this.wake(fn, 0)))
        .catch((err) => this.logger.error({ err }, "sweeping for due work failed"));
    sweep();
    this.sweeper = setInterval(sweep, sweepMs);
  }

  /** Makes sure the function's work runs at `at` (epoch ms) or earlier. */
  wake(fn: string, at: number): void {
    if (this.stopped) return;
    const scheduled = this.timers.get(fn);
    if (scheduled && scheduled.at <= at) return;
    if (scheduled) clearTimeout(scheduled.timer);
    const timer = setTimeout(() => this.run(fn), Math.max(0, at - Date.now()));
    this.timers.set(fn, { at, timer });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.sweeper);
    for (const { timer } of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
    await Promise.all(this.running.values());
  }

  private run(fn: string): void {
    this.timers.delete(fn);
    // One run per function at a time; a wake during it runs the work again right after.
    if (this.running.has(fn)) {
      this.again.add(fn);
      return;
    }
    const run = this.work(fn)
      .then((next) => {
        if (next !== undefined) this.wake(fn, next);
      })
      .catch((err) => {
        this.logger.error({ err, function: fn }, "due work failed; trying again in a second");
        this.wake(fn, Date.now() + 1000);
      })
      .finally(() => {
        this.running.delete(fn);
        if (this.again.delete(fn)) this.wake(fn, 0);
      });
    this.running.set(fn, run);
  }
}
