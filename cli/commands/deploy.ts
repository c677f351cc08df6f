// hearth deploy: pack a function folder and PUT it with its settings (hearth.json, then flags).

import { readdir, readFile, stat } from "node:fs/promises";
import path from "node:path";
import type { Command } from "commander";
import { segment } from "../api.js";
import { connect } from "../connect.js";
import { CliError, UsageError } from "../errors.js";
import { bytes, printJson } from "../output.js";
import { packFolder, SETTINGS_FILE } from "../pack.js";
import { reportingBody, UploadProgress } from "../progress.js";
import { addSettingFlags, settingsOfFlags, type SettingFlags } from "../setting-flags.js";

interface DeployOptions extends SettingFlags {
  name?: string;
  runtime?: string;
  json?: boolean;
}

interface DeployedFunction {
  name: string;
  version: number;
  runtime: string;
  handler: string;
  memory: number;
  timeout: number;
  codeSize: number;
}

export function registerDeploy(program: Command): void {
  const deploy = program
    .command("deploy")
    .description(`pack a function folder (less what .hearthignore names) and deploy it with the settings of its ${SETTINGS_FILE} and the flags`)
    .argument("[dir]", "the function folder", ".")
    .option("-n, --name <name>", `the function's name (default: "name" in ${SETTINGS_FILE}, else the folder's name)`)
    .option("-r, --runtime <runtime>", "node, python, go or custom");
  addSettingFlags(deploy, "an environment variable (repeatable; added to hearth.json's)")
    .option("--json", "print Hearth's answer as JSON")
    .action(async (dir: string, options: DeployOptions) => {
      const { name, config } = await settingsOf(dir, options);
      const code = await packFolder(dir);
      if (!code) throw new CliError(`${dir} holds nothing to deploy (every file is ignored)`);
      const api = await connect();

      const form = new FormData();
      form.set("config", JSON.stringify(config));
      form.set("code", new Blob([new Uint8Array(code)]), "code.tgz");
      // Serialized up front by fetch's own multipart encoder, so that the progress line knows the total.
      const encoded = new Response(form);
      const body = Buffer.from(await encoded.arrayBuffer());
      const builds = config.runtime === "go" && (await hasGoSource(dir));
      const progress = new UploadProgress(`Uploading ${name} (package ${bytes(code.length)})`, body.length);
      let uploadedAt = 0;
      const response = await api.request("PUT", `/system/functions/${segment(name)}`, {
        headers: { "content-type": encoded.headers.get("content-type")!, "content-length": String(body.length) },
        body: reportingBody(
          body,
          (count) => progress.sent(count),
          () => {
            progress.done();
            uploadedAt = Date.now();
            // Hearth compiles Go source while the PUT waits for its answer.
            if (builds) process.stderr.write(`Building ${name} (Go)…\n`);
          },
        ),
      });
      const deployed = (await response.json()) as DeployedFunction;
      if (builds) process.stderr.write(`Built in ${((Date.now() - uploadedAt) / 1000).toFixed(1)} s.\n`);
      if (options.json) return printJson(deployed);
      const verb = response.status === 201 ? "created" : "updated";
      process.stdout.write(
        `Deployed ${deployed.name} (${verb}): version ${deployed.version}, ${deployed.runtime}, handler ${deployed.handler}, ${deployed.memory} MiB, timeout ${deployed.timeout} s.\n` +
          `Ready. Invoke it: hearth invoke ${deployed.name} --data '{}'\n`,
      );
    });
}

/** hearth.json's settings, then the flags; the name is not a setting but the function's address. */
async function settingsOf(dir: string, options: DeployOptions): Promise<{ name: string; config: Record<string, unknown> }> {
  const directory = await stat(dir).catch(() => undefined);
  if (!directory?.isDirectory()) throw new UsageError(`${dir} is not a folder`);
  const { name: storedName, ...stored } = await readSettings(path.join(dir, SETTINGS_FILE));
  const config: Record<string, unknown> = { ...stored, ...(options.runtime ? { runtime: options.runtime } : {}), ...settingsOfFlags(options) };
  if (options.env) config.environment = { ...(stored.environment as object | undefined), ...options.env };
  if (config.runtime === undefined) throw new UsageError(`no runtime: give --runtime or "runtime" in ${path.join(dir, SETTINGS_FILE)}`);
  const name = options.name ?? (typeof storedName === "string" ? storedName : path.basename(path.resolve(dir)));
  return { name, config };
}

async function readSettings(file: string): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return {};
    throw error;
  }
  try {
    const settings = JSON.parse(text) as unknown;
    if (settings && typeof settings === "object" && !Array.isArray(settings)) return settings as Record<string, unknown>;
  } catch {
    // Reported below, with the file's name.
  }
  throw new UsageError(`${file} must hold a JSON object of settings`);
}

async function hasGoSource(dir: string): Promise<boolean> {
  return (await readdir(dir)).some((file) => file.endsWith(".go"));
}
