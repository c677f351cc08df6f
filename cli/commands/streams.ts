// hearth streams ls|add|rm: the Redis Streams that trigger a function.

import { Option, type Command } from "commander";
import { segment } from "../api.js";
import { connect } from "../connect.js";
import { printJson, printTable } from "../output.js";

interface Subscription {
  stream: string;
  startFrom: string;
  subscribedAt: string;
  pending: number | null;
  lag: number | null;
}

export function registerStreams(program: Command): void {
  const streams = program.command("streams").description("Redis Streams whose entries invoke a function");

  streams
    .command("ls")
    .description("list a function's subscriptions, with pending and lag")
    .argument("<name>")
    .option("--json", "print Hearth's answer as JSON")
    .action(async (name: string, options: { json?: boolean }) => {
      const answer = await (await connect()).json<{ subscriptions: Subscription[] }>("GET", `/system/functions/${segment(name)}/streams`);
      if (options.json) return printJson(answer);
      printTable(
        answer.subscriptions,
        [
          { header: "STREAM", value: (s) => s.stream },
          { header: "FROM", value: (s) => s.startFrom },
          { header: "PENDING", value: (s) => s.pending },
          { header: "LAG", value: (s) => s.lag },
          { header: "SINCE", value: (s) => s.subscribedAt },
        ],
        `${name} is subscribed to no stream.`,
      );
    });

  streams
    .command("add")
    .description("subscribe a function to a stream: each entry invokes it once, asynchronously")
    .argument("<name>")
    .argument("<stream>")
    .addOption(new Option("--from <where>", "entries added from now on, or those already in the stream too").choices(["new", "oldest"]).default("new"))
    .option("--json", "print Hearth's answer as JSON")
    .action(async (name: string, stream: string, options: { from: string; json?: boolean }) => {
      const subscription = await (await connect()).json<Subscription>("PUT", `/system/functions/${segment(name)}/streams/${segment(stream)}`, { json: { startFrom: options.from } });
      if (options.json) return printJson(subscription);
      process.stdout.write(`${name} is subscribed to ${subscription.stream} (from ${subscription.startFrom} entries).\n`);
    });

  streams
    .command("rm")
    .description("unsubscribe (the stream stays)")
    .argument("<name>")
    .argument("<stream>")
    .action(async (name: string, stream: string) => {
      await (await connect()).request("DELETE", `/system/functions/${segment(name)}/streams/${segment(stream)}`);
      process.stdout.write(`${name} is no longer subscribed to ${stream}.\n`);
    });
}
