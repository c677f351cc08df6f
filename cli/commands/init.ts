// hearth init: a new function folder from a template.

import { mkdir, readdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { Option, type Command } from "commander";
import { CliError } from "../errors.js";
import { RUNTIMES, template, type Runtime } from "../templates.js";

export function registerInit(program: Command): void {
  program
    .command("init")
    .description("create a function folder from a template")
    .argument("<dir>", "the folder to create (empty or missing)")
    .addOption(new Option("-r, --runtime <runtime>", "the function's language").choices(RUNTIMES).default("node"))
    .option("-n, --name <name>", "the function's name (default: the folder's name)")
    .action(async (dir: string, options: { runtime: Runtime; name?: string }) => {
      const name = options.name ?? path.basename(path.resolve(dir));
      await ensureEmpty(dir);
      const { files, executables } = template(options.runtime, name);
      for (const [file, content] of Object.entries(files)) await writeFile(path.join(dir, file), content, { flag: "wx", mode: executables.includes(file) ? 0o755 : 0o644 });
      process.stdout.write(`Created ${dir}: a ${options.runtime} function named ${name} (${Object.keys(files).join(", ")}).\nDeploy it: hearth deploy ${dir}\n`);
    });
}

async function ensureEmpty(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  if ((await readdir(dir)).length > 0) throw new CliError(`${dir} is not empty: init writes into a new or empty folder`);
}
