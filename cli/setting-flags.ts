// The function settings `deploy` and `set` take as flags, and the settings object they make.

import type { Command } from "commander";
import { integer, keyValue, positiveNumber } from "./options.js";

export interface SettingFlags {
  handler?: string;
  memory?: number;
  timeout?: number;
  maxContainers?: number;
  maxRetries?: number;
  env?: Record<string, string>;
}

export function addSettingFlags(command: Command, envHelp: string): Command {
  return command
    .option("--handler <handler>", "file.export, for example index.handler")
    .option("--memory <MiB>", "memory limit", integer)
    .option("--timeout <seconds>", "time limit of one invocation", positiveNumber)
    .option("--max-containers <n>", "containers it may run at once", integer)
    .option("--max-retries <n>", "retries of a failed async invocation", integer)
    .option("-e, --env <NAME=VALUE>", envHelp, keyValue);
}

/** The settings the flags name (environment apart: deploy merges it, set replaces the map). */
export function settingsOfFlags(flags: SettingFlags): Record<string, unknown> {
  const settings = { handler: flags.handler, memory: flags.memory, timeout: flags.timeout, maxContainers: flags.maxContainers, maxRetries: flags.maxRetries };
  return Object.fromEntries(Object.entries(settings).filter(([, value]) => value !== undefined));
}
