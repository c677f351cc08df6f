// The Node runtime (images/node/bootstrap.cjs) as the adapter runs it, outside Docker: a real RuntimeApi
// on loopback, the bootstrap spawned with the adapter's environment and handler files in a temp dir.
// Assertions are on outcomes and order, never on durations. The image runs Node 22: set
// HEARTH_TEST_NODE to a Node 22 binary to run the same tests with it.

import { spawn, type ChildProcess } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import http from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { RuntimeApi, type RuntimeOutcome, type RuntimeFunction } from "../../gateway/adapter/runtime-api.js";
import { runtimeEnvironment } from "../../gateway/adapter/runtime-environment.js";

const NODE = process.env.HEARTH_TEST_NODE ?? process.execPath;
const BOOTSTRAP = path.resolve("images/node/bootstrap.cjs");
const ARN = "arn:aws:lambda:local:000000000000:function:fn";
const runtimeFunction = (handler: string): RuntimeFunction => ({ name: "fn", version: 3, handler, memoryMb: 256, timeoutSeconds: 60, region: "local", arn: ARN });

type Files = Record<string, string>;

interface Answer {
  kind: RuntimeOutcome["kind"];
  /** The parsed body of a response or an error. */
  body?: any;
  errorType?: string;
}

interface Runtime {
  api: RuntimeApi;
  child: ChildProcess;
  exited: Promise<number | null>;
  stdout(): string;
  stderr(): string;
  /** Resolves once the output (stdout + stderr) has a line matching `pattern`. */
  waitForLog(pattern: RegExp): Promise<string>;
  invoke(event: unknown, options?: { id?: string; timeoutMs?: number }): Promise<Answer>;
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function taskRoot(files: Files): Promise<string> {
  const root = await mkdtemp(path.join(os.tmpdir(), "hearth-node-runtime-"));
  cleanups.push(() => rm(root, { recursive: true, force: true }));
  for (const [name, content] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(root, name)), { recursive: true });
    await writeFile(path.join(root, name), content);
  }
  return root;
}

/** Spawns the bootstrap against `apiPort` with the environment the adapter gives it. */
function spawnBootstrap(root: string, handler: string, apiPort: number) {
  const child = spawn(NODE, [BOOTSTRAP], {
    cwd: root,
    stdio: ["ignore", "pipe", "pipe"],
    env: runtimeEnvironment({ fn: runtimeFunction(handler), environment: {}, taskRoot: root, bootstrap: BOOTSTRAP, containerId: "container1", port: apiPort, now: new Date("2024-01-01T12:00:00Z") }),
  });
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  cleanups.push(async () => {
    child.kill("SIGKILL");
    await exited;
  });
  const output = { stdout: "", stderr: "" };
  const watchers: (() => void)[] = [];
  for (const stream of ["stdout", "stderr"] as const) {
    child[stream]!.on("data", (chunk: Buffer) => {
      output[stream] += chunk.toString();
      for (const watcher of watchers.slice()) watcher();
    });
  }
  const waitForLog = (pattern: RegExp) =>
    new Promise<string>((resolve) => {
      const check = () => {
        const line = `${output.stdout}${output.stderr}`.split("\n").find((candidate) => pattern.test(candidate));
        if (line === undefined) return;
        watchers.splice(watchers.indexOf(check), 1);
        resolve(line);
      };
      watchers.push(check);
      check();
    });
  return { child, exited, stdout: () => output.stdout, stderr: () => output.stderr, waitForLog };
}

/** Starts the runtime on `files` with `handler`, as the adapter would, without waiting for it to be ready. */
async function startRuntime(files: Files, handler = "index.handler"): Promise<Runtime> {
  const root = await taskRoot(files);
  const api = new RuntimeApi(runtimeFunction(handler));
  const port = await api.listen();
  cleanups.push(async () => api.close());
  const spawned = spawnBootstrap(root, handler, port);

  const invoke = async (event: unknown, options: { id?: string; timeoutMs?: number } = {}): Promise<Answer> => {
    // Like ContainerWorker.execute: past the timeout, the invocation ends and the runtime is killed.
    const timer = options.timeoutMs === undefined ? undefined : setTimeout(() => api.interrupt({ kind: "timeout" }), options.timeoutMs);
    const outcome = await api.invoke({ id: options.id ?? randomUUID(), payload: Buffer.from(JSON.stringify(event)), deadlineMs: Date.now() + 60_000, retryCount: 0 });
    clearTimeout(timer);
    if (outcome.kind === "timeout") spawned.child.kill("SIGKILL");
    if (outcome.kind === "response") return { kind: outcome.kind, body: JSON.parse(outcome.body.toString()) };
    if (outcome.kind === "error") return { kind: outcome.kind, body: JSON.parse(outcome.body.toString()), errorType: outcome.errorType };
    return { kind: outcome.kind };
  };
  return { api, ...spawned, invoke };
}

/** Starts the runtime and waits until it asks for work. */
async function readyRuntime(files: Files, handler = "index.handler"): Promise<Runtime> {
  const runtime = await startRuntime(files, handler);
  const readiness = await runtime.api.waitReady();
  if (!readiness.ready) throw new Error(`runtime failed to start: ${readiness.error.toString()}\n${runtime.stderr()}`);
  return runtime;
}

async function initError(files: Files, handler = "index.handler"): Promise<{ body: any; exitCode: number | null }> {
  const runtime = await startRuntime(files, handler);
  const readiness = await runtime.api.waitReady();
  expect(readiness.ready).toBe(false);
  const body = readiness.ready ? undefined : JSON.parse(readiness.error.toString());
  return { body, exitCode: await runtime.exited };
}

describe("loading handlers", () => {
  it("runs a CommonJS exports.handler", async () => {
    const runtime = await readyRuntime({ "index.js": "exports.handler = async (event) => ({ got: event });" });
    expect(await runtime.invoke({ a: 1 })).toEqual({ kind: "response", body: { got: { a: 1 } } });
  });

  it("runs module.exports.handler in a sub-folder, and keeps module state between invocations", async () => {
    const runtime = await readyRuntime(
      { "src/app.js": "let count = 0;\nmodule.exports.handler = (event, context, callback) => callback(null, { count: ++count });" },
      "src/app.handler",
    );
    expect((await runtime.invoke({})).body).toEqual({ count: 1 });
    expect((await runtime.invoke({})).body).toEqual({ count: 2 });
  });

  it("runs an .mjs module with top-level await", async () => {
    const runtime = await readyRuntime({
      "index.mjs": "const greeting = await Promise.resolve('hello');\nexport const handler = async (event) => `${greeting} ${event.name}`;",
    });
    expect((await runtime.invoke({ name: "esm" })).body).toBe("hello esm");
  });

  it('runs a .js ES module of a "type": "module" package, exported as default { handler }', async () => {
    const runtime = await readyRuntime({
      "package.json": JSON.stringify({ type: "module" }),
      "lib/handler.js": "await null;\nconst handler = async () => import.meta.url.endsWith('/lib/handler.js');\nexport default { handler };",
    }, "lib/handler.handler");
    expect((await runtime.invoke({})).body).toBe(true);
  });

  it('runs a .cjs module inside a "type": "module" package', async () => {
    const runtime = await readyRuntime({
      "package.json": JSON.stringify({ type: "module" }),
      "index.cjs": "exports.handler = async () => typeof require;",
    });
    expect((await runtime.invoke({})).body).toBe("function");
  });

  it("reports a missing module as Runtime.ImportModuleError and exits", async () => {
    const { body, exitCode } = await initError({ "other.js": "" }, "src/app.handler");
    expect(body.errorType).toBe("Runtime.ImportModuleError");
    expect(body.errorMessage).toContain("Cannot find module 'src/app'");
    expect(exitCode).not.toBe(0);
  });

  it("reports a module that throws while loading as Runtime.ImportModuleError, with the cause", async () => {
    const { body } = await initError({ "index.js": "require('./missing-dependency');" });
    expect(body.errorType).toBe("Runtime.ImportModuleError");
    expect(body.errorMessage).toContain("Cannot find module './missing-dependency'");
    const thrown = await initError({ "index.mjs": "throw new RangeError('no config');\nexport const handler = () => {};" });
    expect(thrown.body).toMatchObject({ errorType: "Runtime.ImportModuleError", errorMessage: "Error loading index.mjs: RangeError: no config" });
  });

  it("reports a syntax error as Runtime.UserCodeSyntaxError, with its place in CommonJS", async () => {
    const cjs = await initError({ "index.js": "exports.handler = async () => {\n  return 1 +;\n};" });
    expect(cjs.body.errorType).toBe("Runtime.UserCodeSyntaxError");
    expect(cjs.body.errorMessage).toMatch(/^SyntaxError in index\.js:2: /);
    const esm = await initError({ "index.mjs": "export const handler = async () => {\n  return 1 +;\n};" });
    expect(esm.body.errorType).toBe("Runtime.UserCodeSyntaxError");
    expect(esm.body.errorMessage).toMatch(/^SyntaxError in index\.mjs: /);
  });

  it("reports a missing export, or one that is not a function, as Runtime.HandlerNotFound", async () => {
    const missing = await initError({ "index.js": "exports.main = () => {};" });
    expect(missing.body).toMatchObject({ errorType: "Runtime.HandlerNotFound", errorMessage: "index.handler is undefined or not exported (index.js exports: main)" });
    const notFunction = await initError({ "index.mjs": "export const handler = 42;" });
    expect(notFunction.body).toMatchObject({ errorType: "Runtime.HandlerNotFound", errorMessage: "index.handler is a number, not a function (index.mjs exports: handler)" });
  });

  it("reports a top-level await that never settles instead of exiting silently", async () => {
    const { body } = await initError({ "index.mjs": "await new Promise(() => {});\nexport const handler = () => {};" });
    expect(body.errorType).toBe("Runtime.ImportModuleError");
    expect(body.errorMessage).toContain("top-level await never settled");
  });
});

describe("results and errors", () => {
  it("takes the error-first callback's error as Lambda's error shape", async () => {
    const runtime = await readyRuntime({ "index.js": "exports.handler = (event, context, callback) => callback(new TypeError('bad input'));" });
    const answer = await runtime.invoke({});
    expect(answer).toMatchObject({ kind: "error", errorType: "TypeError", body: { errorType: "TypeError", errorMessage: "bad input" } });
    expect(answer.body.trace[0]).toBe("TypeError: bad input");
    expect(answer.body.trace.some((line: string) => line.includes("index.js"))).toBe(true);
  });

  it("lets the first of callback and returned promise win and ignores later calls", async () => {
    const runtime = await readyRuntime({
      "index.js": `
exports.handler = async (event, context, callback) => {
  if (event.first === "callback") {
    callback(null, "from callback");
    callback(null, "second callback");
    return "from promise";
  }
  setTimeout(() => callback(null, "late callback"), 0);
  return "from promise";
};`,
    });
    expect((await runtime.invoke({ first: "callback" })).body).toBe("from callback");
    expect((await runtime.invoke({ first: "promise" })).body).toBe("from promise");
    // The late callback of the previous invocation does not answer this one.
    expect((await runtime.invoke({ first: "callback" })).body).toBe("from callback");
  });

  it("supports the legacy context.succeed, context.fail and context.done", async () => {
    const runtime = await readyRuntime({
      "index.js": `
exports.handler = (event, context) => {
  if (event.use === "succeed") context.succeed({ ok: true });
  if (event.use === "fail") context.fail(new Error("failed"));
  if (event.use === "done") context.done(null, "done");
  context.succeed("ignored: the first call wins");
};`,
    });
    expect((await runtime.invoke({ use: "succeed" })).body).toEqual({ ok: true });
    expect(await runtime.invoke({ use: "fail" })).toMatchObject({ kind: "error", body: { errorType: "Error", errorMessage: "failed" } });
    expect((await runtime.invoke({ use: "done" })).body).toBe("done");
  });

  it("gives thrown values that are not Errors a type and a readable message", async () => {
    const runtime = await readyRuntime({ "index.js": "exports.handler = async (event) => { throw event.value; };" });
    const thrown = async (value: unknown) => (await runtime.invoke({ value })).body;
    expect(await thrown("plain text")).toEqual({ errorType: "string", errorMessage: "plain text", trace: [] });
    expect(await thrown({ code: 42 })).toEqual({ errorType: "object", errorMessage: '{"code":42}', trace: [] });
    expect(await thrown(7)).toEqual({ errorType: "number", errorMessage: "7", trace: [] });
    expect(await thrown(undefined)).toMatchObject({ errorType: "undefined", errorMessage: "the handler failed with undefined instead of an error" });
    expect(await thrown({ name: "ValidationError", message: "missing id" })).toMatchObject({ errorType: "ValidationError", errorMessage: "missing id" });
  });

  it("answers Runtime.MarshalError for a result JSON cannot hold, and keeps serving", async () => {
    const runtime = await readyRuntime({
      "index.js": `
exports.handler = async (event) => {
  if (event.kind === "circular") { const loop = {}; loop.self = loop; return loop; }
  if (event.kind === "bigint") return { big: 10n };
  return "fine";
};`,
    });
    const circular = await runtime.invoke({ kind: "circular" });
    expect(circular).toMatchObject({ kind: "error", errorType: "Runtime.MarshalError" });
    expect(circular.body.errorMessage).toMatch(/circular/i);
    expect(await runtime.invoke({ kind: "bigint" })).toMatchObject({ kind: "error", errorType: "Runtime.MarshalError" });
    expect((await runtime.invoke({ kind: "ok" })).body).toBe("fine");
  });
  it("keeps serving after the Runtime API refuses a result over 6 MB", async () => {
    const runtime = await readyRuntime({ "index.js": "exports.handler = async (event) => (event.big ? 'x'.repeat(7 * 1024 * 1024) : 'small');" });
    expect((await runtime.invoke({ big: true })).kind).toBe("response-too-large");
    expect(await runtime.waitForLog(/answered 413/)).toMatch(/\tERROR\t/);
    expect((await runtime.invoke({})).body).toBe("small");
  });
});

describe("the event loop", () => {
  const pendingTimer = `
exports.handler = (event, context, callback) => {
  context.callbackWaitsForEmptyEventLoop = event.wait;
  const result = { timerFired: false };
  setTimeout(() => { result.timerFired = true; }, 50);
  callback(null, result);
};`;

  it("with callbackWaitsForEmptyEventLoop true, answers once the timers the handler left have run", async () => {
    const runtime = await readyRuntime({ "index.js": pendingTimer });
    // The result is serialised when it is sent: after the timer, which changed it.
    expect((await runtime.invoke({ wait: true })).body).toEqual({ timerFired: true });
  });

  it("with callbackWaitsForEmptyEventLoop false, answers at once", async () => {
    const runtime = await readyRuntime({ "index.js": pendingTimer });
    expect((await runtime.invoke({ wait: false })).body).toEqual({ timerFired: false });
    expect((await runtime.invoke({ wait: true })).body).toEqual({ timerFired: true });
  });

  it("answers null for a callback-form handler that never calls back, once the loop is empty", async () => {
    const runtime = await readyRuntime({
      "index.js": `
let timerFired = false;
exports.handler = (event, context, callback) => {
  if (event.report) return callback(null, { timerFired });
  setTimeout(() => { timerFired = true; }, 50);
};`,
    });
    expect(await runtime.invoke({})).toEqual({ kind: "response", body: null });
    expect((await runtime.invoke({ report: true })).body).toEqual({ timerFired: true });
  });

  it("answers an async handler when its promise settles, whatever it left pending", async () => {
    const runtime = await readyRuntime({ "index.js": "exports.handler = async () => { setInterval(() => {}, 1000); return 'settled'; };" });
    expect((await runtime.invoke({})).body).toBe("settled");
    expect((await runtime.invoke({})).body).toBe("settled");
  });

  it("fails an async handler whose promise can never settle, instead of hanging", async () => {
    const runtime = await readyRuntime({ "index.js": "exports.handler = () => new Promise(() => {});" });
    expect(await runtime.invoke({})).toMatchObject({ kind: "error", errorType: "Runtime.NodeJsExit" });
  });

  it("runs into the timeout when the handler leaves a long timer and waits for the empty loop", async () => {
    const runtime = await readyRuntime({
      "index.js": "exports.handler = (event, context, callback) => { setTimeout(() => {}, 3_600_000); callback(null, 'too late'); };",
    });
    expect(await runtime.invoke({}, { timeoutMs: 1000 })).toEqual({ kind: "timeout" });
  });
});

describe("the context", () => {
  it("carries the function's settings, the request's id, ARN and deadline", async () => {
    const runtime = await readyRuntime({
      "index.js": `
exports.handler = async (event, context) => {
  const { getRemainingTimeInMillis, succeed, fail, done, ...fields } = context;
  return { ...fields, remaining: getRemainingTimeInMillis(), legacy: [succeed, fail, done].map((f) => typeof f), traceId: process.env._X_AMZN_TRACE_ID };
};`,
    });
    const { body } = await runtime.invoke({}, { id: "req-ctx" });
    expect(body).toMatchObject({
      functionName: "fn",
      functionVersion: "3",
      invokedFunctionArn: ARN,
      memoryLimitInMB: "256",
      awsRequestId: "req-ctx",
      logGroupName: "/aws/lambda/fn",
      logStreamName: "2024/01/01/[3]container1",
      callbackWaitsForEmptyEventLoop: true,
      legacy: ["function", "function", "function"],
    });
    expect(body.remaining).toBeGreaterThan(0);
    expect(body.remaining).toBeLessThanOrEqual(60_000);
    expect(body.traceId).toMatch(/^Root=/);
    expect(body).not.toHaveProperty("identity");
    expect(body).not.toHaveProperty("clientContext");
  });

  it("parses the client context and Cognito identity headers", async () => {
    // RuntimeApi does not send these headers: a one-invocation stand-in for the Runtime API does.
    let answered!: (body: string) => void;
    const posted = new Promise<string>((resolve) => (answered = resolve));
    let delivered = false;
    const server = http.createServer((req, res) => {
      if (req.url!.endsWith("/next") && !delivered) {
        delivered = true;
        res.writeHead(200, {
          "Lambda-Runtime-Aws-Request-Id": "req-headers",
          "Lambda-Runtime-Deadline-Ms": String(Date.now() + 60_000),
          "Lambda-Runtime-Invoked-Function-Arn": ARN,
          "Lambda-Runtime-Client-Context": JSON.stringify({ client: { app_title: "app" }, custom: { tenant: "t1" } }),
          "Lambda-Runtime-Cognito-Identity": JSON.stringify({ cognitoIdentityId: "id-1", cognitoIdentityPoolId: "pool-1" }),
        });
        return res.end("{}");
      }
      if (req.url!.endsWith("/next")) return; // held: one invocation is enough
      let body = "";
      req.on("data", (chunk: Buffer) => (body += chunk));
      req.on("end", () => {
        res.writeHead(202).end('{"status":"OK"}');
        answered(body);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    cleanups.push(async () => {
      server.closeAllConnections();
      server.close();
    });
    const root = await taskRoot({ "index.js": "exports.handler = async (event, context) => ({ identity: context.identity, clientContext: context.clientContext });" });
    spawnBootstrap(root, "index.handler", (server.address() as AddressInfo).port);
    expect(JSON.parse(await posted)).toEqual({
      identity: { cognitoIdentityId: "id-1", cognitoIdentityPoolId: "pool-1" },
      clientContext: { client: { app_title: "app" }, custom: { tenant: "t1" } },
    });
  });
});

describe("logs", () => {
  it("writes console lines as <time> <request id> <LEVEL> <message>, stdout and stderr as Node does", async () => {
    const runtime = await readyRuntime({
      "index.js": `
console.log("loading %s", "module");
exports.handler = async () => {
  console.log("hello %s", "world", { n: 1 });
  console.info("info");
  console.debug("debug");
  console.warn("warn");
  console.error(new Error("shown with its stack"));
  console.trace("traced %d", 7);
  return "logged";
};`,
    });
    await runtime.invoke({}, { id: "req-logs" });
    await runtime.waitForLog(/\tTRACE\t/);
    const iso = "\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z";
    const stdout = runtime.stdout().split("\n");
    expect(stdout[0]).toMatch(new RegExp(`^${iso}\\t\\tINFO\\tloading module$`));
    expect(stdout).toContainEqual(expect.stringMatching(new RegExp(`^${iso}\\treq-logs\\tINFO\\thello world \\{ n: 1 \\}$`)));
    expect(stdout).toContainEqual(expect.stringMatching(/\treq-logs\tINFO\tinfo$/));
    expect(stdout).toContainEqual(expect.stringMatching(/\treq-logs\tDEBUG\tdebug$/));
    const stderr = runtime.stderr();
    expect(stderr).toMatch(/\treq-logs\tWARN\twarn\n/);
    expect(stderr).toMatch(/\treq-logs\tERROR\tError: shown with its stack\n\s+at /);
    expect(stderr).toMatch(/\treq-logs\tTRACE\tTrace: traced 7\n\s+at .*index\.js/);
    expect(`${runtime.stdout()}${runtime.stderr()}`).not.toContain("undefined");
  });

  it("logs a failed invocation's error with its request id", async () => {
    const runtime = await readyRuntime({ "index.js": "exports.handler = async () => { throw new Error('logged failure'); };" });
    await runtime.invoke({}, { id: "req-fail" });
    expect(await runtime.waitForLog(/Invoke Error/)).toMatch(/\treq-fail\tERROR\tInvoke Error\t\{"errorType":"Error","errorMessage":"logged failure"/);
  });
});

describe("crashes", () => {
  it("answers an unhandled rejection as Runtime.UnhandledPromiseRejection and exits", async () => {
    const runtime = await readyRuntime({
      "index.js": "exports.handler = async () => { Promise.reject(new Error('nobody waits for me')); await new Promise((r) => setTimeout(r, 50)); return 'unreached'; };",
    });
    const answer = await runtime.invoke({});
    expect(answer).toMatchObject({ kind: "error", errorType: "Runtime.UnhandledPromiseRejection", body: { errorMessage: "Error: nobody waits for me" } });
    expect(await runtime.exited).toBe(128);
  });

  it("answers an uncaught exception from a timer with its error and exits", async () => {
    const runtime = await readyRuntime({
      "index.js": "exports.handler = (event, context, callback) => { setTimeout(() => { throw new RangeError('thrown in a timer'); }, 0); };",
    });
    expect(await runtime.invoke({})).toMatchObject({ kind: "error", errorType: "RangeError", body: { errorMessage: "thrown in a timer" } });
    expect(await runtime.exited).toBe(129);
  });
});

describe("examples/node", () => {
  it("callback: greets, counts warm invocations and answers a ValidationError", async () => {
    const runtime = await readyRuntime({ "index.js": await readFile("examples/node/callback/index.js", "utf8") });
    expect(await runtime.invoke({ name: "Ada" }, { id: "req-1" })).toEqual({ kind: "response", body: { message: "Hello, Ada!", requestId: "req-1", invocation: 1 } });
    expect((await runtime.invoke({ name: "Grace" })).body).toMatchObject({ message: "Hello, Grace!", invocation: 2 });
    expect(await runtime.invoke({})).toMatchObject({ kind: "error", body: { errorType: "ValidationError", errorMessage: "name is required" } });
  });

  it("async: totals an order and answers a TypeError for a malformed one", async () => {
    const runtime = await readyRuntime({ "index.mjs": await readFile("examples/node/async/index.mjs", "utf8") });
    const order = { items: [{ name: "tea", price: 3.5, quantity: 2 }, { name: "cake", price: 4, quantity: 1 }] };
    expect(await runtime.invoke(order, { id: "req-2" })).toEqual({
      kind: "response",
      body: { items: 2, subtotal: 11, tax: 2.2, total: 13.2, currency: "EUR", requestId: "req-2" },
    });
    expect(await runtime.invoke({})).toMatchObject({ kind: "error", body: { errorType: "TypeError", errorMessage: "items must be an array of {name, price, quantity}" } });
  });
});
