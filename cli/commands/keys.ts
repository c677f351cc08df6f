// hearth keys create|ls|revoke: API keys (an admin key's business).

import type { Command } from "commander";
import { segment } from "../api.js";
import { connect } from "../connect.js";
import { collect } from "../options.js";
import { printJson, printTable } from "../output.js";

interface ApiKey {
  id: string;
  name: string;
  scopes: string[];
  functions: string[];
  createdAt: string;
  key?: string;
}

export function registerKeys(program: Command): void {
  const keys = program.command("keys").description("API keys");

  keys
    .command("create")
    .description("make a key; its secret is printed this once")
    .requiredOption("-n, --name <name>", "what the key is for")
    .option("-s, --scope <scope>", "invoke (the default), read or admin (repeatable)", collect)
    .option("-f, --function <name>", "a function the key may invoke, * for all (repeatable)", collect)
    .option("--json", "print Hearth's answer as JSON")
    .action(async (options: { name: string; scope?: string[]; function?: string[]; json?: boolean }) => {
      const created = await (await connect()).json<ApiKey>("POST", "/system/keys", { json: { name: options.name, scopes: options.scope ?? ["invoke"], functions: options.function ?? [] } });
      if (options.json) return printJson(created);
      process.stdout.write(`Created key ${created.id} (${created.name}; ${created.scopes.join(", ")}${created.functions.length ? ` on ${created.functions.join(", ")}` : ""}).\n`);
      process.stdout.write(`Its secret, shown this once:\n${created.key}\n`);
    });

  keys
    .command("ls")
    .description("list keys (no secrets)")
    .option("--json", "print Hearth's answer as JSON")
    .action(async (options: { json?: boolean }) => {
      const answer = await (await connect()).json<{ keys: ApiKey[] }>("GET", "/system/keys");
      if (options.json) return printJson(answer);
      printTable(
        answer.keys,
        [
          { header: "ID", value: (k) => k.id },
          { header: "NAME", value: (k) => k.name },
          { header: "SCOPES", value: (k) => k.scopes },
          { header: "FUNCTIONS", value: (k) => k.functions },
          { header: "CREATED", value: (k) => k.createdAt },
        ],
        "No keys but the admin key.",
      );
    });

  keys
    .command("revoke")
    .description("revoke keys: every gateway rejects them from then on")
    .argument("<ids...>")
    .action(async (ids: string[]) => {
      const api = await connect();
      for (const id of ids) {
        await api.request("DELETE", `/system/keys/${segment(id)}`);
        process.stdout.write(`Revoked ${id}.\n`);
      }
    });
}
