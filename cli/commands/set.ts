// hearth set: change some settings of a function, keeping its code and the settings not named (PATCH).

import type { Command } from "commander";
import { segment } from "../api.js";
import { connect } from "../connect.js";
import { UsageError } from "../errors.js";
import { printJson } from "../output.js";
import { addSettingFlags, settingsOfFlags, type SettingFlags } from "../setting-flags.js";

export function registerSet(program: Command): void {
  const set = program
    .command("set")
    .description("change some settings of a function; the code and the other settings stay")
    .argument("<name>");
  addSettingFlags(set, "an environment variable (repeatable); given, these become the whole environment (values are write-only, so Hearth cannot merge them)")
    .option("--json", "print Hearth's answer as JSON")
    .action(async (name: string, options: SettingFlags & { json?: boolean }) => {
      const settings = { ...settingsOfFlags(options), ...(options.env ? { environment: options.env } : {}) };
      if (Object.keys(settings).length === 0) throw new UsageError("name a setting to change (hearth help set lists them)");
      const updated = await (await connect()).json<{ name: string; version: number; memory: number; timeout: number; environment: string[] }>("PATCH", `/system/functions/${segment(name)}`, { json: settings });
      if (options.json) return printJson(updated);
      process.stdout.write(`Updated ${updated.name}: version ${updated.version}, ${Object.keys(settings).join(", ")} changed.\n`);
    });
}
