// hearth login: check a URL and key against Hearth, then keep them for later commands.

import { createInterface } from "node:readline/promises";
import { text } from "node:stream/consumers";
import type { Command } from "commander";
import { HearthApi } from "../api.js";
import { CliError, UsageError } from "../errors.js";
import { configFile, DEFAULT_URL, storeConnection } from "../settings.js";

export function registerLogin(program: Command): void {
  program
    .command("login")
    .description("store Hearth's URL and a key in $XDG_CONFIG_HOME/hearth/config.json or ~/.config/hearth/config.json (mode 0600); HEARTH_URL and HEARTH_TOKEN still win")
    .option("--url <url>", "Hearth's address", process.env.HEARTH_URL || DEFAULT_URL)
    .option("--token <key>", "the key (default: read from stdin, so that it stays out of shell history)")
    .action(async (options: { url: string; token?: string }) => {
      const url = options.url.replace(/\/+$/, "");
      if (!URL.canParse(url)) throw new UsageError(`${url} is not a URL`);
      const token = (options.token ?? (await readKey())).trim();
      if (!token) throw new UsageError("no key: give --token or pipe it in (hearth login < key-file)");
      // 401 means the key is wrong; 403 (a key without read scope) is still a valid key.
      const response = await new HearthApi({ url, token }).send("GET", "/system/functions");
      if (response.status === 401) throw new CliError(`Hearth at ${url} rejects this key (401 Unauthorized)`);
      if (!response.ok && response.status !== 403) throw new CliError(`Hearth at ${url} answered ${response.status}`);
      await storeConnection({ url, token });
      process.stdout.write(`Logged in to ${url}; stored in ${configFile()}.\n`);
    });
}

/** A piped key is read to its end; on a terminal, one line after a prompt (on stderr, so stdout stays the command's). */
async function readKey(): Promise<string> {
  if (!process.stdin.isTTY) return text(process.stdin);
  const prompt = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return await prompt.question("Key: ");
  } finally {
    prompt.close();
  }
}
