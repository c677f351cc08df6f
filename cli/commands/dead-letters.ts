// hearth dlq ls|redrive|purge: a function's dead-lettered async invocations.

import type { Command } from "commander";
import { describeError, segment } from "../api.js";
import { connect } from "../connect.js";
import { integer } from "../options.js";
import { printJson, printTable } from "../output.js";

interface DeadLetter {
  id: string;
  attempts: number;
  queuedAt: string;
  finishedAt: string | null;
  error?: unknown;
}

export function registerDeadLetters(program: Command): void {
  const dlq = program.command("dlq").description("a function's dead letters: async invocations that failed every retry");

  dlq
    .command("ls")
    .description("list dead letters, oldest first")
    .argument("<name>")
    .option("--offset <n>", "skip this many", integer)
    .option("--limit <n>", "at most this many", integer)
    .option("--json", "print Hearth's answer as JSON")
    .action(async (name: string, options: { offset?: number; limit?: number; json?: boolean }) => {
      const page = await (await connect()).json<{ total: number; invocations: DeadLetter[] }>("GET", `/system/functions/${segment(name)}/dead-letters`, {
        query: { offset: options.offset, limit: options.limit },
      });
      if (options.json) return printJson(page);
      printTable(
        page.invocations,
        [
          { header: "ID", value: (d) => d.id },
          { header: "ATTEMPTS", value: (d) => d.attempts },
          { header: "QUEUED", value: (d) => d.queuedAt },
          { header: "FAILED", value: (d) => d.finishedAt },
          { header: "ERROR", value: (d) => (d.error === undefined ? undefined : (describeError(d.error) ?? JSON.stringify(d.error))) },
        ],
        `No dead letters for ${name}.`,
      );
      if (page.total > page.invocations.length) process.stdout.write(`(${page.invocations.length} of ${page.total}: use --offset and --limit for the others)\n`);
    });

  dlq
    .command("redrive")
    .description("queue dead letters again, with a fresh retry budget (all of them when no id is given)")
    .argument("<name>")
    .argument("[ids...]")
    .option("--json", "print Hearth's answer as JSON")
    .action(async (name: string, ids: string[], options: { json?: boolean }) => {
      const answer = await (await connect()).json<{ redriven: string[] }>("POST", `/system/functions/${segment(name)}/dead-letters/redrive`, { json: ids.length ? { ids } : {} });
      if (options.json) return printJson(answer);
      process.stdout.write(`Redrove ${answer.redriven.length} dead letter(s)${list(answer.redriven)}.\n`);
    });

  dlq
    .command("purge")
    .description("delete dead letters, records and all (all of them when no id is given)")
    .argument("<name>")
    .argument("[ids...]")
    .option("--json", "print Hearth's answer as JSON")
    .action(async (name: string, ids: string[], options: { json?: boolean }) => {
      const api = await connect();
      const base = `/system/functions/${segment(name)}/dead-letters`;
      let purged: string[] = [];
      if (ids.length === 0) purged = (await api.json<{ purged: string[] }>("DELETE", base)).purged;
      for (const id of ids) purged.push(...(await api.json<{ purged: string[] }>("DELETE", `${base}/${segment(id)}`)).purged);
      if (options.json) return printJson({ purged });
      process.stdout.write(`Purged ${purged.length} dead letter(s)${list(purged)}.\n`);
    });
}

function list(ids: string[]): string {
  return ids.length ? `: ${ids.join(", ")}` : "";
}
