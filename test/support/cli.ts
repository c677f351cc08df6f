// Runs the built `hearth` command (dist/hearth-cli.cjs) as a user would: its own process, its own
// environment, HOME and XDG_CONFIG_HOME in a temporary folder (so that no login of the machine leaks in).

import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, expect } from "vitest";

export const CLI = path.resolve("dist/hearth-cli.cjs");

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  env?: Record<string, string | undefined>;
  input?: string;
  cwd?: string;
  timeoutMs?: number;
  /** On a terminal (a pty from util-linux's script): stdout and stderr both arrive in `stdout`. */
  terminal?: boolean;
}

/** A command that keeps running (hearth logs -f): what it printed so far, and a way to end it. */
export interface RunningCli {
  stdout(): string;
  stop(): Promise<CliResult>;
}

export interface CliRunner {
  /** A temporary folder of the test file's, the user's HOME. */
  home: string;
  run(args: string[], options?: RunOptions): Promise<CliResult>;
  start(args: string[]): RunningCli;
}

/** `connection()` gives HEARTH_URL and HEARTH_TOKEN once the file's Hearth is up. */
export function useCli(connection: () => { url: string; token: string }): CliRunner {
  const runner = { home: "" } as CliRunner;
  beforeAll(async () => {
    expect(existsSync(CLI), `${CLI} is missing: run npm run build (scripts/test.sh builds)`).toBe(true);
    runner.home = await mkdtemp(path.join(os.tmpdir(), "hearth-cli-home-"));
  });
  afterAll(async () => {
    if (runner.home) await rm(runner.home, { recursive: true, force: true });
  });
  const environment = (overrides: Record<string, string | undefined> = {}): Record<string, string> => {
    const { url, token } = connection();
    const env: Record<string, string | undefined> = { PATH: process.env.PATH, HOME: runner.home, XDG_CONFIG_HOME: path.join(runner.home, "config"), HEARTH_URL: url, HEARTH_TOKEN: token, ...overrides };
    return Object.fromEntries(Object.entries(env).filter(([, value]) => value !== undefined)) as Record<string, string>;
  };
  runner.run = (args, options = {}) => collect(spawnCli(args, environment(options.env), options), options.input);
  runner.start = (args) => {
    const child = spawnCli(args, environment(), {});
    const result = collect(child, "");
    let stdout = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    return {
      stdout: () => stdout,
      stop: () => {
        child.kill("SIGINT");
        return result;
      },
    };
  };
  return runner;
}

/** The command itself (its #! line and mode), not `node` with it: what a user's shell does. */
function spawnCli(args: string[], env: Record<string, string>, options: RunOptions): ChildProcessWithoutNullStreams {
  const spawnOptions = { env, cwd: options.cwd, stdio: "pipe" as const, timeout: options.timeoutMs ?? 90_000 };
  if (!options.terminal) return spawn(CLI, args, spawnOptions);
  const command = [CLI, ...args].map((word) => `'${word.replace(/'/g, "'\\''")}'`).join(" ");
  return spawn("script", ["--quiet", "--return", "--command", command, "/dev/null"], spawnOptions);
}

function collect(child: ChildProcessWithoutNullStreams, input: string | undefined): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(input ?? "");
  });
}
