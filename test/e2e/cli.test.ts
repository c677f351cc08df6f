// The `hearth` command as a user runs it (the built dist/hearth-cli.cjs, a process of its own) against
// a real Hearth: init and deploy each runtime, invoke every way, list, describe, delete, dead letters,
// streams, keys, login, and failures that exit non-zero with the API's message.

import { randomBytes } from "node:crypto";
import { mkdir, readFile, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { useCli } from "../support/cli.js";
import { TEST_ADMIN_TOKEN, useTestHearth } from "../support/hearth.js";

const h = useTestHearth();
const cli = useCli(() => ({ url: h.url, token: TEST_ADMIN_TOKEN }));

/** A function folder of the test's: files, and settings in hearth.json. */
async function folder(name: string, files: Record<string, string>): Promise<string> {
  const dir = path.join(cli.home, name);
  for (const [file, content] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(dir, file)), { recursive: true });
    await writeFile(path.join(dir, file), content);
  }
  return dir;
}

function json(stdout: string): any {
  return JSON.parse(stdout);
}

describe("hearth init and deploy", () => {
  it("makes a node function from its template, deploys it ready to call, and invokes it with --data and @file", async () => {
    const dir = path.join(cli.home, "hello");
    const init = await cli.run(["init", dir, "--runtime", "node"]);
    expect(init).toMatchObject({ code: 0, stderr: "" });
    expect(json(await readFile(path.join(dir, "hearth.json"), "utf8"))).toMatchObject({ name: "hello", runtime: "node", handler: "index.handler" });

    const deployed = await cli.run(["deploy", dir]);
    expect(deployed.code, deployed.stderr).toBe(0);
    expect(deployed.stdout).toContain("Deployed hello (created): version 1, node, handler index.handler");
    expect(deployed.stdout).toContain("Ready. Invoke it: hearth invoke hello");
    // Not a terminal: the upload's progress is one final line.
    expect(deployed.stderr).toMatch(/^Uploading hello \(package [\d.]+ (B|KiB)\): [\d.]+ (B|KiB) sent\.\n$/);

    const invoked = await cli.run(["invoke", "hello", "--data", '{"name":"Hearth"}']);
    expect(invoked.code, invoked.stderr).toBe(0);
    expect(json(invoked.stdout)).toMatchObject({ greeting: "hello, Hearth" });
    expect(invoked.stderr).toMatch(/^Request id: \S+\n$/);

    const event = path.join(cli.home, "event.json");
    await writeFile(event, '{"name":"from a file"}');
    const fromFile = await cli.run(["invoke", "hello", "--data", `@${event}`]);
    expect(json(fromFile.stdout)).toMatchObject({ greeting: "hello, from a file" });

    const redeployed = await cli.run(["deploy", dir, "--json", "--memory", "128", "--env", "MODE=test"]);
    expect(redeployed.code, redeployed.stderr).toBe(0);
    expect(json(redeployed.stdout)).toMatchObject({ name: "hello", version: 2, memory: 128, environment: ["MODE"] });
  });

  it("makes and deploys a python function", async () => {
    const dir = path.join(cli.home, "hello-py");
    expect((await cli.run(["init", dir, "--runtime", "python"])).code).toBe(0);
    const deployed = await cli.run(["deploy", dir]);
    expect(deployed.code, deployed.stderr).toBe(0);
    const invoked = await cli.run(["invoke", "hello-py", "--data", '{"name":"Python"}']);
    expect(invoked.code, invoked.stderr).toBe(0);
    expect(json(invoked.stdout)).toMatchObject({ greeting: "hello, Python" });
  });

  it("makes a go function and deploys it, saying while Hearth builds it", async () => {
    const dir = path.join(cli.home, "hello-go");
    expect((await cli.run(["init", dir, "--runtime", "go"])).code).toBe(0);
    const deployed = await cli.run(["deploy", dir]);
    expect(deployed.code, deployed.stderr).toBe(0);
    expect(deployed.stderr).toMatch(/Building hello-go \(Go\)…\nBuilt in [\d.]+ s\.\n/);
    const invoked = await cli.run(["invoke", "hello-go", "--data", '{"name":"Go"}']);
    expect(invoked.code, invoked.stderr).toBe(0);
    expect(json(invoked.stdout)).toEqual({ greeting: "hello, Go" });
  });

  it("makes a custom runtime function (an executable bootstrap, the runtime API client) and deploys it ready to call", async () => {
    const dir = path.join(cli.home, "hello-custom");
    expect((await cli.run(["init", dir, "--runtime", "custom"])).code).toBe(0);
    expect((await stat(path.join(dir, "bootstrap"))).mode & 0o777).toBe(0o755);
    const deployed = await cli.run(["deploy", dir]);
    expect(deployed.code, deployed.stderr).toBe(0);
    expect(deployed.stdout).toContain("Deployed hello-custom (created): version 1, custom, handler greet");
    const invoked = await cli.run(["invoke", "hello-custom", "--data", '{"name":"Custom"}']);
    expect(invoked.code, invoked.stderr).toBe(0);
    expect(json(invoked.stdout)).toMatchObject({ greeting: "hello, Custom", requestId: expect.stringMatching(/^hello-custom\./) });
  });

  it("leaves what .hearthignore names (and hearth.json) out of the package", async () => {
    const dir = await folder("lister", {
      "index.js": 'const fs = require("node:fs");\nexports.handler = async () => fs.readdirSync(__dirname, { recursive: true }).sort();\n',
      "keep/a.txt": "kept",
      "secret.env": "TOKEN=1",
      "notes/todo.md": "private",
      "keep/notes/also.md": "a directory rule matches at any depth",
      ".hearthignore": "# local files\n*.env\nnotes/\n",
      "hearth.json": JSON.stringify({ runtime: "node", environment: { SECRET: "not in the package" } }),
    });
    expect((await cli.run(["deploy", dir])).code).toBe(0);
    const listed = await cli.run(["invoke", "lister"]);
    expect(listed.code, listed.stderr).toBe(0);
    expect(json(listed.stdout)).toEqual(["index.js", "keep", "keep/a.txt"]);
  });

  it("shows the upload's progress on a terminal, redrawn in place", async () => {
    const dir = await folder("bulky", { "index.js": "exports.handler = async () => 1;", "hearth.json": JSON.stringify({ runtime: "node" }) });
    await writeFile(path.join(dir, "noise.bin"), randomBytes(600 * 1024));
    const deployed = await cli.run(["deploy", dir], { terminal: true });
    expect(deployed.code, deployed.stdout).toBe(0);
    expect(deployed.stdout).toMatch(/\rUploading bulky \(package 60\d\.\d KiB\): 64\.0 KiB \/ 60\d\.\d KiB \(10%\)/);
    expect(deployed.stdout).toMatch(/\rUploading bulky \(package 60\d\.\d KiB\): 60\d\.\d KiB sent\.\x1b\[K\r?\n/);
    expect(deployed.stdout).toContain("Deployed bulky (created)");
  });

  it("refuses a folder without a runtime, and bad flags, as usage errors (exit code 2)", async () => {
    const dir = await folder("no-settings", { "index.js": "exports.handler = async () => 1;" });
    const missing = await cli.run(["deploy", dir]);
    expect(missing).toMatchObject({ code: 2, stdout: "" });
    expect(missing.stderr).toContain("no runtime: give --runtime");
    expect((await cli.run(["deploy", dir, "--memory", "lots"])).code).toBe(2);
    expect((await cli.run(["invoke"])).code).toBe(2);
    expect((await cli.run(["frobnicate"])).code).toBe(2);
  });
});

describe("hearth invoke", () => {
  it("sends a raw body as it is, and waits for an async invocation's result", async () => {
    const dir = await folder("echo", { "index.js": "exports.handler = async (event) => event;", "hearth.json": JSON.stringify({ runtime: "node" }) });
    expect((await cli.run(["deploy", dir])).code).toBe(0);
    const raw = await cli.run(["invoke", "echo", "--raw", "--data", "not JSON at all"]);
    expect(raw).toMatchObject({ code: 0, stdout: "not JSON at all" });

    const waited = await cli.run(["invoke", "echo", "--async", "--wait", "--data", '{"later":true}']);
    expect(waited.code, waited.stderr).toBe(0);
    expect(json(waited.stdout)).toEqual({ later: true });

    const queued = await cli.run(["invoke", "echo", "--async", "--data", "{}"]);
    expect(queued.code).toBe(0);
    expect(queued.stdout).toMatch(/^echo\.[0-9a-f-]{36}\n$/);
  });

  it("stops waiting after --wait-timeout, saying the invocation goes on", async () => {
    const dir = await folder("sleeper", { "index.js": "exports.handler = () => new Promise((resolve) => setTimeout(() => resolve(1), 5000));", "hearth.json": JSON.stringify({ runtime: "node" }) });
    expect((await cli.run(["deploy", dir])).code).toBe(0);
    const started = Date.now();
    const waited = await cli.run(["invoke", "sleeper", "--async", "--wait", "--wait-timeout", "1"]);
    expect(Date.now() - started).toBeLessThan(4500);
    expect(waited).toMatchObject({ code: 1, stdout: "" });
    expect(waited.stderr).toMatch(/^hearth: invocation sleeper\.\S+ is still (queued|running) after 1 s \(it goes on/);
  });

  it("fails with the function's error, and with the API's message for a malformed body", async () => {
    const dir = await folder("thrower", { "index.js": 'exports.handler = async () => { throw new TypeError("boom"); };', "hearth.json": JSON.stringify({ runtime: "node", maxRetries: 0 }) });
    expect((await cli.run(["deploy", dir])).code).toBe(0);
    const failed = await cli.run(["invoke", "thrower"]);
    expect(failed).toMatchObject({ code: 1, stdout: "" });
    expect(failed.stderr).toContain("hearth: TypeError: boom");
    // What a function says reaches the terminal with its control characters escaped.
    const escaping = await folder("escaper", { "index.js": 'exports.handler = async () => { throw new Error("clear\\x1b[2Jscreen"); };', "hearth.json": JSON.stringify({ runtime: "node" }) });
    expect((await cli.run(["deploy", escaping])).code).toBe(0);
    const escaped = await cli.run(["invoke", "escaper"]);
    expect(escaped.code).toBe(1);
    expect(escaped.stderr).toContain("hearth: Error: clear\\x1b[2Jscreen\n");
    expect(escaped.stderr).not.toContain("\x1b");
    const malformed = await cli.run(["invoke", "thrower", "--data", "{oops"]);
    expect(malformed.code).toBe(1);
    expect(malformed.stderr).toMatch(/hearth: \w+: .*JSON/);
  });
});

describe("hearth ls, describe, rm", () => {
  it("lists, describes and deletes functions, as tables and as JSON", async () => {
    const dir = await folder("listed", { "index.js": "exports.handler = async () => 1;", "hearth.json": JSON.stringify({ runtime: "node", timeout: 7 }) });
    expect((await cli.run(["deploy", dir])).code).toBe(0);

    const table = await cli.run(["ls"]);
    expect(table.code).toBe(0);
    expect(table.stdout.split("\n")[0]).toMatch(/^NAME\s+RUNTIME\s+HANDLER\s+VERSION\s+MEMORY\s+TIMEOUT\s+UPDATED$/);
    expect(table.stdout).toMatch(/^listed\s+node\s+index\.handler\s+1\s+256 MiB\s+7 s\s+\S+$/m);
    const list = json((await cli.run(["ls", "--json"])).stdout);
    expect(list.functions.map((f: { name: string }) => f.name)).toContain("listed");

    const described = await cli.run(["describe", "listed"]);
    expect(described.stdout).toMatch(/^timeout:\s+7$/m);
    expect(described.stdout).toMatch(/^containers:\s+\{"starting":0,"idle":0,"busy":0\}$/m);
    expect(json((await cli.run(["describe", "listed", "--json"])).stdout)).toMatchObject({ name: "listed", timeout: 7, queued: 0 });

    expect(await cli.run(["rm", "listed"])).toMatchObject({ code: 0, stdout: "Deleted listed.\n" });
    const gone = await cli.run(["describe", "listed"]);
    expect(gone).toMatchObject({ code: 1, stdout: "", stderr: "hearth: FunctionNotFound: function listed does not exist\n" });
    expect((await cli.run(["rm", "listed"])).code).toBe(1);
    expect(json((await cli.run(["ls", "--json"])).stdout).functions.map((f: { name: string }) => f.name)).not.toContain("listed");
  });
});

describe("hearth dlq", () => {
  it("lists, redrives and purges dead letters", async () => {
    const dir = await folder("doomed", { "index.js": 'exports.handler = async () => { throw new Error("always"); };', "hearth.json": JSON.stringify({ runtime: "node", maxRetries: 0 }) });
    expect((await cli.run(["deploy", dir])).code).toBe(0);
    const waited = await cli.run(["invoke", "doomed", "--async", "--wait"]);
    expect(waited.code).toBe(1);
    expect(waited.stderr).toMatch(/^hearth: invocation doomed\.\S+ dead-lettered: Error: always\n$/);
    const id = /invocation (\S+) dead-lettered/.exec(waited.stderr)![1]!;

    const table = await cli.run(["dlq", "ls", "doomed"]);
    expect(table.stdout).toMatch(/^ID\s+ATTEMPTS\s+QUEUED\s+FAILED\s+ERROR$/m);
    expect(table.stdout).toContain(`${id}  1`);
    expect(table.stdout).toContain("Error: always");
    expect(json((await cli.run(["dlq", "ls", "doomed", "--json"])).stdout)).toMatchObject({ total: 1, invocations: [{ id }] });

    expect(await cli.run(["dlq", "redrive", "doomed"])).toMatchObject({ code: 0, stdout: `Redrove 1 dead letter(s): ${id}.\n` });
    // It fails again, and is a dead letter again.
    await expect.poll(async () => json((await cli.run(["dlq", "ls", "doomed", "--json"])).stdout).total, { timeout: 20_000 }).toBe(1);
    expect(await cli.run(["dlq", "purge", "doomed", id])).toMatchObject({ code: 0, stdout: `Purged 1 dead letter(s): ${id}.\n` });
    expect(await cli.run(["dlq", "ls", "doomed"])).toMatchObject({ code: 0, stdout: "No dead letters for doomed.\n" });
  });
});

describe("hearth streams", () => {
  it("subscribes a function to a stream, lists and removes the subscription", async () => {
    const dir = await folder("consumer", { "index.js": "exports.handler = async (event) => event.id;", "hearth.json": JSON.stringify({ runtime: "node" }) });
    expect((await cli.run(["deploy", dir])).code).toBe(0);
    await h.client.xadd("orders", "*", "item", "tea");

    expect(await cli.run(["streams", "add", "consumer", "orders", "--from", "oldest"])).toMatchObject({ code: 0, stdout: "consumer is subscribed to orders (from oldest entries).\n" });
    expect((await cli.run(["streams", "ls", "consumer"])).stdout).toMatch(/^orders\s+oldest\s+/m);
    expect(json((await cli.run(["streams", "ls", "consumer", "--json"])).stdout)).toMatchObject({ subscriptions: [{ stream: "orders", startFrom: "oldest" }] });
    expect(await cli.run(["streams", "rm", "consumer", "orders"])).toMatchObject({ code: 0, stdout: "consumer is no longer subscribed to orders.\n" });
    expect((await cli.run(["streams", "ls", "consumer"])).stdout).toBe("consumer is subscribed to no stream.\n");
    const again = await cli.run(["streams", "rm", "consumer", "orders"]);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/^hearth: \w+: /);
  });
});

describe("hearth keys and login", () => {
  it("creates a key that works, lists it, revokes it, and the revoked key fails with the API's message", async () => {
    const created = await cli.run(["keys", "create", "--name", "reader", "--scope", "read", "--json"]);
    expect(created.code, created.stderr).toBe(0);
    const key = json(created.stdout) as { id: string; key: string };
    const asReader = { HEARTH_TOKEN: key.key };
    expect((await cli.run(["ls"], { env: asReader })).code).toBe(0);
    // Read scope only: making keys is an admin's.
    const forbidden = await cli.run(["keys", "create", "--name", "x", "--scope", "read"], { env: asReader });
    expect(forbidden.code).toBe(1);
    expect(forbidden.stderr).toMatch(/^hearth: Forbidden: /);

    expect((await cli.run(["keys", "ls"])).stdout).toMatch(new RegExp(`^${key.id}\\s+reader\\s+read\\s+-\\s+\\S+$`, "m"));
    const human = await cli.run(["keys", "create", "--name", "caller", "--function", "hello"]);
    expect(human.stdout).toMatch(/^Created key \S+ \(caller; invoke on hello\)\.\nIts secret, shown this once:\n\S{20,}\n$/);

    expect(await cli.run(["keys", "revoke", key.id])).toMatchObject({ code: 0, stdout: `Revoked ${key.id}.\n` });
    const revoked = await cli.run(["ls"], { env: asReader });
    expect(revoked).toMatchObject({ code: 1, stdout: "" });
    expect(revoked.stderr).toMatch(/^hearth: Unauthorized: /);
    expect(json((await cli.run(["keys", "ls", "--json"])).stdout).keys.map((k: { id: string }) => k.id)).not.toContain(key.id);
  });

  it("logs in (the key from stdin), stores it for the user alone, and later commands use it without the environment", async () => {
    const noEnv = { HEARTH_URL: undefined, HEARTH_TOKEN: undefined };
    const refused = await cli.run(["login", "--url", h.url], { env: noEnv, input: "not-a-key-of-this-hearth\n" });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("rejects this key");

    const login = await cli.run(["login", "--url", h.url], { env: noEnv, input: `${TEST_ADMIN_TOKEN}\n` });
    expect(login.code, login.stderr).toBe(0);
    const file = path.join(cli.home, "config", "hearth", "config.json");
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect(json(await readFile(file, "utf8"))).toEqual({ url: h.url, token: TEST_ADMIN_TOKEN });

    const listed = await cli.run(["ls", "--json"], { env: noEnv });
    expect(listed.code, listed.stderr).toBe(0);
    expect(json(listed.stdout)).toHaveProperty("functions");
    // The environment still wins over the stored login.
    expect((await cli.run(["ls"], { env: { HEARTH_URL: undefined, HEARTH_TOKEN: "wrong-key-for-this-hearth" } })).code).toBe(1);
  });

  it("says which Hearth it cannot reach", async () => {
    const unreachable = await cli.run(["ls"], { env: { HEARTH_URL: "http://127.0.0.1:9" } });
    expect(unreachable).toMatchObject({ code: 1, stdout: "" });
    expect(unreachable.stderr).toMatch(/^hearth: cannot reach Hearth at http:\/\/127\.0\.0\.1:9: /);
  });
});
