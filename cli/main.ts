// The `hearth` command: a client of Hearth's HTTP API.

import { Command, CommanderError } from "commander";
import packageJson from "../package.json" with { type: "json" };
import { registerDeadLetters } from "./commands/dead-letters.js";
import { registerDeploy } from "./commands/deploy.js";
import { registerFunctions } from "./commands/functions.js";
import { registerInit } from "./commands/init.js";
import { registerInvoke } from "./commands/invoke.js";
import { registerKeys } from "./commands/keys.js";
import { registerLogin } from "./commands/login.js";
import { registerLogs } from "./commands/logs.js";
import { registerSet } from "./commands/set.js";
import { registerStreams } from "./commands/streams.js";
import { CliError } from "./errors.js";
import { printable } from "./output.js";

const USAGE_EXIT_CODE = 2;

function program(): Command {
  const hearth = new Command("hearth")
    .description("Deploy, invoke and watch functions on Hearth (HEARTH_URL and HEARTH_TOKEN, or hearth login)")
    .version(packageJson.version)
    .showHelpAfterError("(hearth --help lists the commands; hearth help <command> explains one)")
    // Usage errors throw instead of exiting, so that they get their own exit code (subcommands inherit this).
    .exitOverride();
  for (const register of [registerInit, registerDeploy, registerSet, registerInvoke, registerLogs, registerFunctions, registerDeadLetters, registerStreams, registerKeys, registerLogin]) {
    register(hearth);
  }
  return hearth;
}

async function main(): Promise<void> {
  try {
    await program().parseAsync(process.argv);
  } catch (error) {
    if (error instanceof CommanderError) {
      // Help and version exit 0; commander has printed what is wrong with the command line already.
      process.exitCode = error.exitCode === 0 ? 0 : USAGE_EXIT_CODE;
      return;
    }
    if (error instanceof CliError) {
      process.stderr.write(`hearth: ${printable(error.message)}\n`);
      process.exitCode = error.exitCode;
      return;
    }
    // A system error (a file that cannot be read, …) says enough by its message; anything else is a bug, whose stack helps.
    const systemError = error instanceof Error && "code" in error;
    process.stderr.write(`hearth: ${systemError ? error.message : ((error as Error).stack ?? String(error))}\n`);
    process.exitCode = 1;
  }
}

void main();
