// hearth logs and hearth invocations: what functions printed, and their recent invocations.

import { createInterface } from "node:readline";
import { Readable } from "node:stream";
import type { Command } from "commander";
import { segment } from "../api.js";
import { connect } from "../connect.js";
import { CliError, UsageError } from "../errors.js";
import { integer } from "../options.js";
import { printable, printJson, printTable } from "../output.js";

interface LogLine {
  time: string;
  invocation: string | null;
  stream: "stdout" | "stderr" | "platform";
  message: string;
}

interface LogsOptions {
  follow?: boolean;
  invocation?: string;
  since?: string;
  until?: string;
  limit?: number;
  json?: boolean;
}

interface InvocationEntry {
  id: string;
  type: string;
  status: string;
  statusCode?: number;
  startedAt?: string;
  durationMs?: number;
  cold?: boolean;
}

export function registerLogs(program: Command): void {
  program
    .command("logs")
    .description("a function's log lines, oldest first (or one invocation's)")
    .argument("[name]", "the function (not needed with --invocation alone)")
    .option("-f, --follow", "keep printing new lines as they are written, until interrupted")
    .option("-i, --invocation <id>", "only this invocation's lines (its X-Call-Id)")
    .option("--since <time>", "lines from this time on (ISO 8601 or epoch ms)")
    .option("--until <time>", "lines up to this time")
    .option("--limit <n>", "at most this many lines (default 100, at most 1000)", integer)
    .option("--json", "print the lines as JSON (one per line with --follow)")
    .action(async (name: string | undefined, options: LogsOptions) => {
      const api = await connect();
      if (!name && (!options.invocation || options.follow || options.since || options.until)) {
        throw new UsageError("name the function (only --invocation <id> alone works without it)");
      }
      if (!name) {
        const { lines } = await api.json<{ lines: LogLine[] }>("GET", `/invocations/${segment(options.invocation!)}/logs`, { query: { limit: options.limit } });
        return printLines(lines, options.json);
      }
      const query = { since: options.since, until: options.until, invocation: options.invocation, limit: options.limit };
      const path = `/system/functions/${segment(name)}/logs`;
      if (!options.follow) {
        const { lines } = await api.json<{ lines: LogLine[] }>("GET", path, { query });
        return printLines(lines, options.json);
      }
      const response = await api.request("GET", path, { query: { ...query, follow: true }, headers: { accept: "application/x-ndjson" } });
      // One JSON line per log line, for as long as the server keeps the connection (or until Ctrl-C).
      try {
        for await (const text of createInterface({ input: Readable.fromWeb(response.body! as never), crlfDelay: Infinity })) {
          if (!text.trim()) continue;
          if (options.json) process.stdout.write(`${text}\n`);
          else printLine(JSON.parse(text) as LogLine);
        }
      } catch (error) {
        throw new CliError(`the log stream broke off: ${(error as Error).message}`);
      }
      // Hearth ends a follow after a while (minutes): say so, rather than look as if the function went quiet.
      process.stderr.write("hearth: Hearth ended the log stream; run the command again to go on following.\n");
    });

  program
    .command("invocations")
    .description("a function's recent invocations, newest first")
    .argument("<name>")
    .option("--limit <n>", "at most this many (default 50, at most 1000)", integer)
    .option("--json", "print Hearth's answer as JSON")
    .action(async (name: string, options: { limit?: number; json?: boolean }) => {
      const history = await (await connect()).json<{ invocations: InvocationEntry[] }>("GET", `/system/functions/${segment(name)}/invocations`, { query: { limit: options.limit } });
      if (options.json) return printJson(history);
      printTable(
        history.invocations,
        [
          { header: "ID", value: (i) => i.id },
          { header: "TYPE", value: (i) => i.type },
          { header: "STATUS", value: (i) => i.status },
          { header: "CODE", value: (i) => i.statusCode },
          { header: "STARTED", value: (i) => i.startedAt },
          { header: "DURATION", value: (i) => (i.durationMs === undefined || i.durationMs === null ? undefined : `${i.durationMs} ms`) },
          { header: "COLD", value: (i) => (i.cold ? "cold" : "warm") },
        ],
        `No invocations of ${name} yet.`,
      );
    });
}

function printLines(lines: LogLine[], json: boolean | undefined): void {
  if (json) return printJson({ lines });
  for (const line of lines) printLine(line);
}

/** `time  invocation  message`; stderr and Hearth's own lines are marked, stdout is the plain case. */
function printLine(line: LogLine): void {
  const marker = line.stream === "stdout" ? "" : `[${line.stream}] `;
  process.stdout.write(`${printable(line.time)}  ${printable(line.invocation ?? "-")}  ${marker}${printable(line.message.replace(/\n$/, ""))}\n`);
}
