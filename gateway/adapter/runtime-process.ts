// The language runtime runs as its own process group, so that the adapter stays in charge when user
// code hangs, spins, crashes or exits, and can stop it with everything it spawned.

import { spawn, type ChildProcess } from "node:child_process";

export class RuntimeProcess {
  private readonly child: ChildProcess;
  private frozen = false;
  /** Resolves with a description of how the process ended. */
  readonly exited: Promise<string>;

  constructor(command: string, env: NodeJS.ProcessEnv, cwd: string) {
    this.child = spawn(command, [], { env, cwd, detached: true, stdio: ["ignore", "inherit", "inherit"] });
    // Its own process group outlives the adapter unless the adapter ends it on the way out.
    const killOnExit = (): void => this.signalGroup("SIGKILL");
    process.once("exit", killOnExit);
    this.exited = new Promise<string>((resolve) => {
      this.child.once("error", (error) => resolve(`could not start ${command}: ${error.message}`));
      this.child.once("exit", (code, signal) => resolve(signal ? `signal: ${signal}` : `exit status ${code}`));
    }).finally(() => process.off("exit", killOnExit));
  }

  async kill(): Promise<void> {
    this.signalGroup("SIGKILL");
    await this.exited;
  }

  /** Stops the whole group between invocations: no timer or thread of the handler runs until thaw(). */
  freeze(): void {
    if (this.frozen) return;
    this.frozen = true;
    this.signalGroup("SIGSTOP");
  }

  thaw(): void {
    if (!this.frozen) return;
    this.frozen = false;
    this.signalGroup("SIGCONT");
  }

  private signalGroup(signal: NodeJS.Signals): void {
    if (this.child.pid === undefined || this.child.exitCode !== null || this.child.signalCode !== null) return;
    try {
      process.kill(-this.child.pid, signal);
    } catch {
      // Already gone.
    }
  }
}
