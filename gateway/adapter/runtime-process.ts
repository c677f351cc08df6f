// The language runtime runs under a uid of its own, not the adapter's: user code can neither read the
// adapter's credentials (/proc/<pid>/environ of another uid is closed to it) nor signal the adapter.
// Everything that uid runs belongs to the invocation: the adapter freezes, thaws and kills every
// process of it, so children that leave the runtime's process group (setsid, double fork) go too.

import { spawn, type ChildProcess } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { once } from "node:events";
import { splitLines } from "./line-splitter.js";

/** The runtime's output, a line at a time, in the order the adapter reads it. */
export type OutputSink = (stream: "stdout" | "stderr", line: string) => void;

/** How long output still arriving after the runtime exited is waited for (a child may hold the pipes open). */
const DRAIN_AFTER_EXIT_MS = 200;

/** Rounds of a freeze or kill, each scanning for processes the last round missed (forked meanwhile). */
const MAX_ROUNDS = 50;

export class RuntimeProcess {
  private readonly child: ChildProcess;
  /** The processes stopped by freeze(), continued by thaw(); undefined while thawed. */
  private frozen?: number[];
  /** Resolves with a description of how the process ended. */
  readonly exited: Promise<string>;
  /** Resolves once the runtime's output has been read to its end (or shortly after it exited). */
  readonly drained: Promise<void>;

  constructor(command: string, env: NodeJS.ProcessEnv, cwd: string, private readonly uid: number, onOutput: OutputSink, maxLineLength: number) {
    // Pipes, not the container's own stdio: the adapter keeps the lines, with the request they belong to.
    this.child = spawn(command, [], { env, cwd, uid, gid: uid, detached: true, stdio: ["ignore", "pipe", "pipe"] });
    const outputs = (["stdout", "stderr"] as const).map((name) => {
      const stream = this.child[name]!;
      splitLines(stream, maxLineLength, (line) => onOutput(name, line));
      return once(stream, "close").catch(() => undefined);
    });
    // Its processes outlive the adapter unless the adapter ends them on the way out.
    const killOnExit = (): void => signalAll(processesOf(uid), "SIGKILL");
    process.once("exit", killOnExit);
    this.exited = new Promise<string>((resolve) => {
      this.child.once("error", (error) => resolve(`could not start ${command}: ${error.message}`));
      this.child.once("exit", (code, signal) => resolve(signal ? `signal: ${signal}` : `exit status ${code}`));
    }).finally(() => process.off("exit", killOnExit));
    this.drained = Promise.race([
      Promise.all(outputs).then(() => undefined),
      this.exited.then(() => new Promise<void>((resolve) => setTimeout(resolve, DRAIN_AFTER_EXIT_MS))),
    ]);
  }

  /** Kills every process of the runtime's uid, until none is left; resolves once the runtime has exited. */
  async kill(): Promise<void> {
    this.frozen = undefined;
    for (let round = 0; round < MAX_ROUNDS; round += 1) {
      const alive = processesOf(this.uid);
      if (alive.length === 0) break;
      signalAll(alive, "SIGKILL");
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    await this.exited;
  }

  /** Stops every process of the runtime's uid between invocations: none runs until thaw(). */
  freeze(): void {
    if (this.frozen) return;
    const frozen: number[] = [];
    // Later rounds read the status of new pids only (forked meanwhile); never the adapter's own.
    const seen = new Set<number>([process.pid]);
    for (let round = 0; round < MAX_ROUNDS; round += 1) {
      const found = processesOf(this.uid, seen);
      if (found.length === 0) break;
      signalAll(found, "SIGSTOP");
      frozen.push(...found);
    }
    this.frozen = frozen;
  }

  /** Continues what freeze() stopped, without a scan: nothing of the uid could start while it was stopped. */
  thaw(): void {
    if (!this.frozen) return;
    signalAll(this.frozen, "SIGCONT");
    this.frozen = undefined;
  }
}

/**
 * The live (not zombie) processes whose real uid is `uid`, from /proc. Pids in `seen` are skipped, and
 * every pid whose status is read is added to it.
 */
function processesOf(uid: number, seen = new Set<number>()): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync("/proc")) {
    const pid = Number(entry);
    if (!Number.isInteger(pid) || seen.has(pid)) continue;
    seen.add(pid);
    let status: string;
    try {
      status = readFileSync(`/proc/${entry}/status`, "latin1");
    } catch {
      continue; // Gone meanwhile.
    }
    const uidLine = /^Uid:\s+(\d+)/m.exec(status);
    if (uidLine && Number(uidLine[1]) === uid && !/^State:\s+Z/m.test(status)) pids.push(pid);
  }
  return pids;
}

function signalAll(pids: number[], signal: NodeJS.Signals): void {
  for (const pid of pids) {
    try {
      process.kill(pid, signal);
    } catch {
      // Already gone.
    }
  }
}
