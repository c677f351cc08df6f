// hearth ls, describe, rm: the functions Hearth has.

import type { Command } from "commander";
import { segment } from "../api.js";
import { connect } from "../connect.js";
import { bytes, printFields, printJson, printTable } from "../output.js";

interface FunctionView {
  name: string;
  runtime: string;
  handler: string;
  version: number;
  memory: number;
  timeout: number;
  codeSize: number;
  updatedAt: string;
  [setting: string]: unknown;
}

export function registerFunctions(program: Command): void {
  program
    .command("ls")
    .description("list the functions")
    .option("--json", "print Hearth's answer as JSON")
    .action(async (options: { json?: boolean }) => {
      const list = await (await connect()).json<{ functions: FunctionView[] }>("GET", "/system/functions");
      if (options.json) return printJson(list);
      printTable(
        list.functions,
        [
          { header: "NAME", value: (f) => f.name },
          { header: "RUNTIME", value: (f) => f.runtime },
          { header: "HANDLER", value: (f) => f.handler },
          { header: "VERSION", value: (f) => f.version },
          { header: "MEMORY", value: (f) => `${f.memory} MiB` },
          { header: "TIMEOUT", value: (f) => `${f.timeout} s` },
          { header: "UPDATED", value: (f) => f.updatedAt },
        ],
        "No functions yet: hearth init hello && hearth deploy hello",
      );
    });

  program
    .command("describe")
    .description("a function's settings, containers, queues and async state")
    .argument("<name>")
    .option("--json", "print Hearth's answer as JSON")
    .action(async (name: string, options: { json?: boolean }) => {
      const view = await (await connect()).json<FunctionView>("GET", `/system/functions/${segment(name)}`);
      if (options.json) return printJson(view);
      const { codeSize, ...rest } = view;
      printFields(Object.entries({ ...rest, codeSize: bytes(codeSize) }));
    });

  program
    .command("rm")
    .description("delete functions (their queued requests fail)")
    .argument("<names...>")
    .action(async (names: string[]) => {
      const api = await connect();
      for (const name of names) {
        await api.request("DELETE", `/system/functions/${segment(name)}`);
        process.stdout.write(`Deleted ${name}.\n`);
      }
    });
}
