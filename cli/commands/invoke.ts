// hearth invoke: call a function, sync or async (and wait for an async one to finish).

import { readFile } from "node:fs/promises";
import { buffer } from "node:stream/consumers";
import { setTimeout as sleep } from "node:timers/promises";
import type { Command } from "commander";
import { describeError, errorOf, segment, type HearthApi } from "../api.js";
import { connect } from "../connect.js";
import { CliError } from "../errors.js";
import { positiveNumber } from "../options.js";
import { printBody, printJson } from "../output.js";

interface InvokeOptions {
  data: string;
  async?: boolean;
  wait?: boolean;
  waitTimeout?: number;
  raw?: boolean;
  json?: boolean;
}

interface InvocationRecord {
  id: string;
  status: string;
  result?: unknown;
  resultBase64?: string;
  error?: unknown;
}

const FINAL_STATUSES = new Set(["succeeded", "failed", "dead-lettered", "cancelled"]);

export function registerInvoke(program: Command): void {
  program
    .command("invoke")
    .description("call a function: the result on stdout, its error on stderr")
    .argument("<name>")
    .option("-d, --data <body>", "the event: JSON text, @file for a file's contents, @- for stdin", "{}")
    .option("--raw", "send the body as it is (any bytes; the function gets it unparsed)")
    .option("--async", "queue it and print the invocation id")
    .option("--wait", "with --async: wait until it is final, then print its result")
    .option("--wait-timeout <seconds>", "with --wait: give up after this long (the invocation goes on)", positiveNumber, 900)
    .option("--json", "with --async: print the invocation record as JSON")
    .action(async (name: string, options: InvokeOptions) => {
      const api = await connect();
      const body = await bodyOf(options.data);
      const query = options.raw ? { integration: "raw" } : undefined;
      const headers = { "content-type": options.raw ? "application/octet-stream" : "application/json" };
      if (!options.async) return invokeSync(api, name, body, query, headers);

      const queued = await api.json<{ id: string }>("POST", `/async-function/${segment(name)}`, { body, query, headers });
      if (!options.wait) {
        if (options.json) return printJson(queued);
        process.stdout.write(`${queued.id}\n`);
        return;
      }
      const record = await waitUntilFinal(api, queued.id, options.waitTimeout! * 1000);
      if (options.json) printJson(record);
      else if (record.status === "succeeded") printResult(record);
      if (record.status !== "succeeded") throw new CliError(`invocation ${record.id} ${record.status}${record.error ? `: ${describeError(record.error) ?? JSON.stringify(record.error)}` : ""}`);
    });
}

async function bodyOf(data: string): Promise<Blob> {
  if (!data.startsWith("@")) return new Blob([data]);
  const file = data.slice(1);
  try {
    return new Blob([new Uint8Array(file === "-" ? await buffer(process.stdin) : await readFile(file))]);
  } catch (error) {
    throw new CliError(`cannot read ${file === "-" ? "stdin" : file}: ${(error as Error).message}`);
  }
}

async function invokeSync(api: HearthApi, name: string, body: Blob, query: Record<string, string> | undefined, headers: Record<string, string>): Promise<void> {
  const response = await api.send("POST", `/function/${segment(name)}`, { body, query, headers });
  // The id finds the invocation's logs: hearth logs --invocation <id>.
  const callId = response.headers.get("x-call-id");
  if (callId) process.stderr.write(`Request id: ${callId}\n`);
  if (!response.ok) throw await errorOf(response);
  printBody(Buffer.from(await response.arrayBuffer()), response.headers.get("content-type"));
}

/** Polls the record, a little less often as time goes on (a retrying invocation may take minutes). */
async function waitUntilFinal(api: HearthApi, id: string, timeoutMs: number): Promise<InvocationRecord> {
  const until = Date.now() + timeoutMs;
  for (let delay = 100; ; delay = Math.min(delay * 1.5, 1000)) {
    const record = await api.json<InvocationRecord>("GET", `/invocations/${segment(id)}`);
    if (FINAL_STATUSES.has(record.status)) return record;
    if (Date.now() >= until) throw new CliError(`invocation ${id} is still ${record.status} after ${timeoutMs / 1000} s (it goes on; GET /invocations/${id} reads it)`);
    await sleep(delay);
  }
}

function printResult(record: InvocationRecord): void {
  if (record.resultBase64 !== undefined) return printBody(Buffer.from(record.resultBase64, "base64"), null);
  if (typeof record.result === "string") process.stdout.write(`${record.result}\n`);
  else printJson(record.result);
}
