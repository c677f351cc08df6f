// `hearth logs`, `hearth invocations` and `hearth set` against a real Hearth. They call the routes of
// issue 13's contract (GET /system/functions/:name/logs, …/invocations, /invocations/:id/logs, PATCH
// /system/functions/:name), which come with the `logs` branch: this file passes once that branch is merged.

import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { useCli } from "../support/cli.js";
import { TEST_ADMIN_TOKEN, useTestHearth } from "../support/hearth.js";

const h = useTestHearth();
const cli = useCli(() => ({ url: h.url, token: TEST_ADMIN_TOKEN }));

const LOG_LINE = /^(\S+)  (\S+)  (.*)$/;

/**
 * Invokes `talker` (it prints `said <word>` and a terminal escape sequence on stdout, `warned <word>` on
 * stderr) and returns the request id.
 */
async function say(word: string): Promise<string> {
  const invoked = await cli.run(["invoke", "talker", "--data", JSON.stringify({ word })]);
  expect(invoked.code, invoked.stderr).toBe(0);
  return /^Request id: (\S+)$/m.exec(invoked.stderr)![1]!;
}

describe("hearth logs and invocations", () => {
  let first: string;
  let second: string;

  beforeAll(async () => {
    const dir = path.join(cli.home, "talker");
    await mkdir(dir, { recursive: true });
    await writeFile(path.join(dir, "index.js"), 'exports.handler = async (event) => { console.log("said", event.word, "\\u001b[2Jcleared"); console.error("warned", event.word); return event.word; };');
    await writeFile(path.join(dir, "hearth.json"), JSON.stringify({ runtime: "node" }));
    const deployed = await cli.run(["deploy", dir]);
    expect(deployed.code, deployed.stderr).toBe(0);
    first = await say("one");
    second = await say("two");
  });

  it("prints a function's lines oldest first: time, invocation, message; stderr and Hearth's own lines marked", async () => {
    await expect.poll(async () => (await cli.run(["logs", "talker"])).stdout, { timeout: 20_000 }).toContain("said two");
    const printed = await cli.run(["logs", "talker"]);
    expect(printed.code).toBe(0);
    const lines = printed.stdout.trimEnd().split("\n");
    for (const line of lines) expect(line).toMatch(LOG_LINE);
    const said = lines.findIndex((line) => line.includes("said one"));
    expect(said).toBeGreaterThanOrEqual(0);
    expect(lines.findIndex((line) => line.includes("said two"))).toBeGreaterThan(said);
    expect(lines[said]).toContain(`  ${first}  `);
    expect(lines.some((line) => line.includes(`  ${first}  [stderr] `) && line.includes("warned one"))).toBe(true);
    expect(lines.some((line) => line.includes(`[platform] START RequestId: ${first}`))).toBe(true);
    expect(lines.some((line) => line.includes(`[platform] REPORT RequestId: ${second}`))).toBe(true);
    // A function's output cannot drive the terminal: control characters come out escaped.
    expect(printed.stdout).toContain("said one \\x1b[2Jcleared");
    expect(printed.stdout).not.toContain("\x1b");
  });

  it("prints one invocation's lines, with or without the function's name, and as JSON", async () => {
    await expect.poll(async () => (await cli.run(["logs", "--invocation", second])).stdout, { timeout: 20_000 }).toContain("said two");
    for (const args of [["logs", "--invocation", second], ["logs", "talker", "--invocation", second]]) {
      const printed = await cli.run(args);
      expect(printed.code, printed.stderr).toBe(0);
      expect(printed.stdout).not.toContain("said one");
      for (const line of printed.stdout.trimEnd().split("\n")) expect(line).toContain(`  ${second}  `);
    }
    const asJson = JSON.parse((await cli.run(["logs", "talker", "--json", "--limit", "1000"])).stdout) as { lines: { invocation: string | null; stream: string; message: string; time: string }[] };
    expect(asJson.lines).toContainEqual({ time: expect.any(String), invocation: first, stream: "stdout", message: expect.stringContaining("said one") });
  });

  it("follows a function's lines as they are written, until interrupted", async () => {
    const following = cli.start(["logs", "talker", "-f"]);
    try {
      await expect.poll(following.stdout, { timeout: 20_000 }).toContain("said two");
      expect(following.stdout()).not.toContain("said three");
      const third = await say("three");
      await expect.poll(following.stdout, { timeout: 20_000 }).toContain("said three");
      expect(following.stdout()).toMatch(new RegExp(`  ${third.replace(/\./g, "\\.")}  .*said three`));
    } finally {
      await following.stop();
    }
  });

  it("lists recent invocations newest first, as a table and as JSON", async () => {
    const table = await cli.run(["invocations", "talker"]);
    expect(table.code, table.stderr).toBe(0);
    const rows = table.stdout.trimEnd().split("\n");
    expect(rows[0]).toMatch(/^ID\s+TYPE\s+STATUS\s+CODE\s+STARTED\s+DURATION\s+COLD$/);
    expect(rows.findIndex((row) => row.startsWith(second))).toBeLessThan(rows.findIndex((row) => row.startsWith(first)));
    expect(rows.find((row) => row.startsWith(first))).toMatch(/\bsync\s+succeeded\s+200\s+\S+\s+[\d.]+ ms\s+cold$/);
    expect(rows.find((row) => row.startsWith(second))).toMatch(/\bwarm$/);
    const history = JSON.parse((await cli.run(["invocations", "talker", "--json"])).stdout) as { invocations: { id: string; status: string; cold: boolean }[] };
    const ids = history.invocations.map((entry) => entry.id);
    expect(ids.indexOf(second)).toBeLessThan(ids.indexOf(first));
    expect(history.invocations.find((entry) => entry.id === first)).toMatchObject({ status: "succeeded", cold: true });
  });

  it("fails with the API's message for an unknown function or invocation", async () => {
    const unknown = await cli.run(["logs", "nobody"]);
    expect(unknown).toMatchObject({ code: 1, stdout: "" });
    expect(unknown.stderr).toMatch(/^hearth: FunctionNotFound: /);
    const missing = await cli.run(["logs", "--invocation", "talker.00000000-0000-4000-8000-000000000000"]);
    expect(missing).toMatchObject({ code: 1, stdout: "" });
    expect(missing.stderr).toMatch(/^hearth: InvocationNotFound: /);
    expect((await cli.run(["invocations", "nobody"])).stderr).toMatch(/^hearth: FunctionNotFound: /);
    // Usage: without a name only --invocation alone makes sense.
    expect((await cli.run(["logs", "-f"])).code).toBe(2);
  });
});

describe("hearth set", () => {
  it("changes the settings it names and keeps the others and the code", async () => {
    const dir = path.join(cli.home, "tuned");
    await mkdir(dir, { recursive: true });
    await writeFile(path.join(dir, "index.js"), "exports.handler = async () => ({ memory: process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE, mode: process.env.MODE });");
    await writeFile(path.join(dir, "hearth.json"), JSON.stringify({ runtime: "node", timeout: 7, environment: { MODE: "first" } }));
    expect((await cli.run(["deploy", dir])).code).toBe(0);

    const updated = await cli.run(["set", "tuned", "--memory", "128"]);
    expect(updated).toMatchObject({ code: 0, stdout: "Updated tuned: version 2, memory changed.\n" });
    expect(JSON.parse((await cli.run(["describe", "tuned", "--json"])).stdout)).toMatchObject({ memory: 128, timeout: 7, environment: ["MODE"], version: 2 });
    expect(JSON.parse((await cli.run(["invoke", "tuned"])).stdout)).toEqual({ memory: "128", mode: "first" });

    // --env replaces the whole environment.
    const environment = await cli.run(["set", "tuned", "--env", "OTHER=x", "--json"]);
    expect(environment.code, environment.stderr).toBe(0);
    expect(JSON.parse(environment.stdout)).toMatchObject({ environment: ["OTHER"], memory: 128 });

    expect((await cli.run(["set", "tuned"])).code).toBe(2);
    const invalid = await cli.run(["set", "tuned", "--memory", "1"]);
    expect(invalid.code).toBe(1);
    expect(invalid.stderr).toMatch(/^hearth: InvalidFunctionConfig: .*memory/);
    expect((await cli.run(["set", "nobody", "--memory", "128"])).stderr).toMatch(/^hearth: FunctionNotFound: /);
  });
});
