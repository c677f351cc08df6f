// The parent's side of the load worker: one child process for the whole run, one load at a time.

import { fork, type ChildProcess } from "node:child_process";
import { LOAD_WORKER_ENTRY } from "../paths.js";
import type { LoadResult, LoadSpec, WorkerMessage } from "./spec.js";

export class LoadGenerator {
  private readonly child: ChildProcess;
  private busy = false;

  /** `headers` go with every request of every load (the same bytes to Hearth and to the direct server). */
  constructor(private readonly headers: Record<string, string> = {}) {
    // Advanced serialization: latency arrays cross as typed arrays, not JSON.
    this.child = fork(LOAD_WORKER_ENTRY, [], { serialization: "advanced", stdio: ["ignore", "inherit", "inherit", "ipc"] });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  run(spec: LoadSpec): Promise<LoadResult> {
    if (this.busy) throw new Error("the load worker runs one load at a time");
    this.busy = true;
    return new Promise<LoadResult>((resolve, reject) => {
      const onMessage = (message: WorkerMessage): void => {
        cleanup();
        if (message.type === "result") resolve(message.result);
        else reject(new Error(`load worker: ${message.message}`));
      };
      const onExit = (code: number | null): void => {
        cleanup();
        reject(new Error(`load worker exited (${code}) during a run`));
      };
      const cleanup = (): void => {
        this.busy = false;
        this.child.off("message", onMessage);
        this.child.off("exit", onExit);
      };
      this.child.on("message", onMessage);
      this.child.once("exit", onExit);
      this.child.send({ type: "run", spec: { ...spec, headers: { ...this.headers, ...spec.headers } } });
    });
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => this.child.once("exit", () => resolve()));
    this.child.kill("SIGTERM");
    await exited;
  }
}
