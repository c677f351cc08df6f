// Hearth's Python runtime (images/python/bootstrap.py) run by the host's python3 against the adapter's
// real Lambda Runtime API, with the environment the adapter gives it: what a handler sees, and what
// its caller gets back.

import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import http from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RuntimeApi, type Readiness, type RuntimeOutcome, type RuntimeFunction } from "../../gateway/adapter/runtime-api.js";
import { runtimeEnvironment } from "../../gateway/adapter/runtime-environment.js";

const BOOTSTRAP = path.resolve("images/python/bootstrap.py");
const runtimeFunction = (handler: string): RuntimeFunction => ({ name: "py-test", version: 3, handler, memoryMb: 256, timeoutSeconds: 30, region: "local", arn: "arn:aws:lambda:local:000000000000:function:py-test" });
// Debian's python3, as in the image: a python3 earlier on the PATH may be a pyenv shim, which alone
// takes ~100 ms to start.
const PYTHON = existsSync("/usr/bin/python3") ? "/usr/bin/python3" : "python3";

const HANDLERS: Record<string, string> = {
  "app.py": `
import logging
import os
import sys
import time
from decimal import Decimal

calls = 0

def handler(event, context):
    global calls
    calls += 1
    if isinstance(event, dict) and event.get("fail"):
        raise ValueError(event["fail"])
    if isinstance(event, dict) and event.get("unserialisable"):
        return {"items": {1, 2}}
    if isinstance(event, dict) and event.get("nothing"):
        return None
    if isinstance(event, dict) and event.get("callerContext"):
        return {
            "identity": vars(context.identity),
            "client": vars(context.client_context.client),
            "custom": context.client_context.custom,
            "env": context.client_context.env,
        }
    if isinstance(event, dict) and event.get("log"):
        print("printed", event["log"])
        logging.getLogger().warning("logged %s", event["log"])
        print("to stderr", event["log"], file=sys.stderr)
        return "logged"
    if isinstance(event, dict) and event.get("sleepMs"):
        time.sleep(event["sleepMs"] / 1000)
    return {
        "event": event,
        "calls": calls,
        "price": Decimal("12.50"),
        "remaining": context.get_remaining_time_in_millis(),
        "function_name": context.function_name,
        "function_version": context.function_version,
        "invoked_function_arn": context.invoked_function_arn,
        "memory_limit_in_mb": context.memory_limit_in_mb,
        "aws_request_id": context.aws_request_id,
        "log_group_name": context.log_group_name,
        "log_stream_name": context.log_stream_name,
        "identity": context.identity,
        "client_context": context.client_context,
        "trace_id": os.environ.get("_X_AMZN_TRACE_ID"),
    }
`,
  "pkg/nested.py": `
def handler(event, context):
    return "nested " + __name__
`,
  "missing_dependency.py": `
import no_such_library_here

def handler(event, context):
    return 1
`,
  "bad_syntax.py": `
def handler(event, context)
    return 1
`,
  "no_handler.py": `
def other(event, context):
    return 1
`,
  "raises_at_import.py": `
import os
TABLE = os.environ["TABLE_NAME"]

def handler(event, context):
    return TABLE
`,
};

let taskRoot: string;

beforeAll(async () => {
  taskRoot = await mkdtemp(path.join(os.tmpdir(), "hearth-python-task-"));
  for (const [file, source] of Object.entries(HANDLERS)) {
    await mkdir(path.dirname(path.join(taskRoot, file)), { recursive: true });
    await writeFile(path.join(taskRoot, file), source);
  }
});

afterAll(async () => {
  if (taskRoot) await rm(taskRoot, { recursive: true, force: true });
});

interface Bootstrap {
  exited: Promise<number | null>;
  output(): string;
  kill(): Promise<void>;
}

/** Spawns the runtime for `handler` with the environment the adapter gives it. */
function spawnBootstrap(handler: string, apiPort: number): Bootstrap {
  const child = spawn(PYTHON, [BOOTSTRAP], {
    cwd: taskRoot,
    stdio: ["ignore", "pipe", "pipe"],
    env: runtimeEnvironment({ fn: runtimeFunction(handler), environment: {}, taskRoot, bootstrap: BOOTSTRAP, containerId: "container1", port: apiPort, now: new Date("2026-01-01T12:00:00Z") }),
  });
  let output = "";
  child.stdout!.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on("data", (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  return {
    exited,
    output: () => output,
    kill: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
      await exited;
    },
  };
}

interface Runtime extends Bootstrap {
  api: RuntimeApi;
  readiness: Readiness;
  /** ms from spawn to the first /next (or init error). */
  startMs: number;
  stop(): Promise<void>;
}

/** The runtime for `handler`, served by the adapter's RuntimeApi, once it is ready or has failed to be. */
async function startRuntime(handler: string): Promise<Runtime> {
  const api = new RuntimeApi(runtimeFunction(handler));
  const port = await api.listen();
  const startedAt = performance.now();
  const bootstrap = spawnBootstrap(handler, port);
  // A runtime that exits before it asks for work would leave waitReady pending: the test fails instead.
  const exitedEarly = bootstrap.exited.then((code): Readiness => ({ ready: false, error: Buffer.from(`exited with ${code} during init: ${bootstrap.output()}`) }));
  const readiness = await Promise.race([api.waitReady(), exitedEarly]);
  const startMs = performance.now() - startedAt;
  return {
    ...bootstrap,
    api,
    readiness,
    startMs,
    stop: async () => {
      await bootstrap.kill();
      api.close();
    },
  };
}

let invocations = 0;

function invoke(runtime: Runtime, payload: string, timeoutMs = 5000): Promise<{ id: string; outcome: RuntimeOutcome }> {
  const id = `req-${++invocations}-${process.pid}`;
  const deadlineMs = Date.now() + timeoutMs;
  return runtime.api.invoke({ id, payload: Buffer.from(payload), deadlineMs, retryCount: 0 }).then((outcome) => ({ id, outcome }));
}

function json(outcome: RuntimeOutcome): any {
  if (outcome.kind !== "response" && outcome.kind !== "error") throw new Error(`no body in outcome ${outcome.kind}`);
  return JSON.parse(outcome.body.toString());
}

/** Waits for output to contain `text` (a child's pipe may deliver it just after the result). */
async function outputContaining(runtime: Bootstrap, text: string): Promise<string> {
  for (let waited = 0; waited < 2000 && !runtime.output().includes(text); waited += 10) await new Promise((resolve) => setTimeout(resolve, 10));
  return runtime.output();
}

describe("Python runtime, a working handler", () => {
  let runtime: Runtime;
  beforeAll(async () => {
    runtime = await startRuntime("app.handler");
    expect(runtime.readiness).toEqual({ ready: true });
  });
  afterAll(() => runtime?.stop());

  it("passes the JSON event and Lambda's context, and returns the result as JSON", async () => {
    const { id, outcome } = await invoke(runtime, JSON.stringify({ name: "Ada", n: [1, 2.5, null] }), 5000);
    expect(outcome.kind).toBe("response");
    const result = json(outcome);
    expect(result).toMatchObject({
      event: { name: "Ada", n: [1, 2.5, null] },
      price: 12.5,
      function_name: "py-test",
      function_version: "3",
      invoked_function_arn: "arn:aws:lambda:local:000000000000:function:py-test",
      memory_limit_in_mb: "256",
      aws_request_id: id,
      log_group_name: "/aws/lambda/py-test",
      log_stream_name: "2026/01/01/[3]container1",
      identity: null,
      client_context: null,
    });
    expect(result.remaining).toBeGreaterThan(4000);
    expect(result.remaining).toBeLessThanOrEqual(5000);
    expect(result.trace_id).toMatch(/^Root=1-/);
  });

  it("builds identity and client_context from the Cognito and client context headers", async () => {
    // The adapter sends neither header yet: a one-event Runtime API of the test's own sends both.
    let posted!: (path: string, body: string) => void;
    const response = new Promise<[string, string]>((resolve) => (posted = (path, body) => resolve([path, body])));
    let served = false;
    const server = http.createServer((req, res) => {
      if (req.method === "POST") {
        let body = "";
        req.on("data", (chunk: Buffer) => (body += chunk.toString()));
        req.on("end", () => {
          res.writeHead(202).end();
          posted(req.url!, body);
        });
      } else if (!served) {
        served = true;
        res.writeHead(200, {
          "Lambda-Runtime-Aws-Request-Id": "caller-1",
          "Lambda-Runtime-Deadline-Ms": String(Date.now() + 5000),
          "Lambda-Runtime-Invoked-Function-Arn": "arn:aws:lambda:local:000000000000:function:py-test",
          "Lambda-Runtime-Cognito-Identity": JSON.stringify({ cognitoIdentityId: "id-1", cognitoIdentityPoolId: "pool-1" }),
          "Lambda-Runtime-Client-Context": JSON.stringify({ client: { installation_id: "install-1", app_title: "Demo" }, custom: { tier: "gold" }, env: { platform: "test" } }),
        });
        res.end(JSON.stringify({ callerContext: true }));
      }
      // Any later /next is left open: there is no more work.
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const bootstrap = spawnBootstrap("app.handler", (server.address() as AddressInfo).port);
    try {
      const [path, body] = await response;
      expect(path).toBe("/2018-06-01/runtime/invocation/caller-1/response");
      expect(JSON.parse(body)).toEqual({
        identity: { cognito_identity_id: "id-1", cognito_identity_pool_id: "pool-1" },
        client: { installation_id: "install-1", app_title: "Demo", app_version_name: null, app_version_code: null, app_package_name: null },
        custom: { tier: "gold" },
        env: { platform: "test" },
      });
    } finally {
      await bootstrap.kill();
      server.closeAllConnections();
      server.close();
    }
  });

  it("keeps the module loaded between invocations (one warm process)", async () => {
    const first = json((await invoke(runtime, "{}")).outcome);
    const second = json((await invoke(runtime, "{}")).outcome);
    expect(second.calls).toBe(first.calls + 1);
  });

  it("counts the remaining time down to the deadline", async () => {
    const result = json((await invoke(runtime, JSON.stringify({ sleepMs: 300 }), 1000)).outcome);
    expect(result.remaining).toBeLessThanOrEqual(700);
    expect(result.remaining).toBeGreaterThan(0);
  });

  it("passes a body that is not JSON as a str", async () => {
    const result = json((await invoke(runtime, "name=Ada&x=1")).outcome);
    expect(result.event).toBe("name=Ada&x=1");
  });

  it("answers None as null", async () => {
    const { outcome } = await invoke(runtime, JSON.stringify({ nothing: true }));
    expect(outcome).toEqual({ kind: "response", body: Buffer.from("null") });
  });

  it("reports an exception as Lambda does, and keeps serving", async () => {
    const { id, outcome } = await invoke(runtime, JSON.stringify({ fail: "no such order" }));
    expect(outcome).toMatchObject({ kind: "error", errorType: "ValueError" });
    const error = json(outcome);
    expect(error).toMatchObject({ errorMessage: "no such order", errorType: "ValueError", requestId: id });
    // The user's frames only, formatted by traceback: none of the runtime's own.
    expect(error.stackTrace).toHaveLength(1);
    expect(error.stackTrace[0]).toMatch(/^ {2}File ".*app\.py", line \d+, in handler\n {4}raise ValueError\(event\["fail"\]\)\n/);
    expect(await outputContaining(runtime, "ValueError: no such order")).toMatch(new RegExp(`\\[ERROR\\]\\t\\S+Z\\t${id}\\tValueError: no such order\\nTraceback`));

    expect((await invoke(runtime, "{}")).outcome.kind).toBe("response");
  });

  it("reports a result that is not JSON serialisable as Runtime.MarshalError", async () => {
    const { outcome } = await invoke(runtime, JSON.stringify({ unserialisable: true }));
    expect(outcome).toMatchObject({ kind: "error", errorType: "Runtime.MarshalError" });
    expect(json(outcome)).toMatchObject({ errorType: "Runtime.MarshalError", errorMessage: "Unable to marshal response: Object of type set is not JSON serializable" });
  });

  it("writes print() and logging lines to the log at once, logging ones with the request id", async () => {
    const { id, outcome } = await invoke(runtime, JSON.stringify({ log: "hello-log" }));
    expect(outcome.kind).toBe("response");
    // The runtime is still running: nothing reached the pipes through a buffer flushed at exit.
    await outputContaining(runtime, "to stderr hello-log");
    const output = await outputContaining(runtime, "logged hello-log");
    expect(output).toContain("printed hello-log\n");
    expect(output).toMatch(new RegExp(`\\[WARNING\\]\\t\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z\\t${id}\\tlogged hello-log\\n`));
  });
});

describe("Python runtime, handler names and init failures", () => {
  it("imports a handler from a sub-folder, as path/module.function or package.module.function", async () => {
    for (const handler of ["pkg/nested.handler", "pkg.nested.handler"]) {
      const runtime = await startRuntime(handler);
      try {
        expect(runtime.readiness).toEqual({ ready: true });
        expect(json((await invoke(runtime, "{}")).outcome)).toBe("nested pkg.nested");
      } finally {
        await runtime.stop();
      }
    }
  });

  const initFailures: [string, string, string, RegExp][] = [
    ["a module that is missing", "absent.handler", "Runtime.ImportModuleError", /^Unable to import module 'absent': No module named 'absent'$/],
    ["a module whose import fails", "missing_dependency.handler", "Runtime.ImportModuleError", /^Unable to import module 'missing_dependency': No module named 'no_such_library_here'$/],
    ["a syntax error", "bad_syntax.handler", "Runtime.UserCodeSyntaxError", /^Syntax error in module 'bad_syntax': expected ':' \(bad_syntax\.py, line 2\)$/],
    ["a missing function", "no_handler.handler", "Runtime.HandlerNotFound", /^Handler 'handler' missing on module 'no_handler' \(loaded from .*no_handler\.py\)$/],
    ["a handler name without a function", "app", "Runtime.MalformedHandlerName", /^Bad handler 'app'/],
    ["init code that raises", "raises_at_import.handler", "KeyError", /^'TABLE_NAME'$/],
  ];
  it.each(initFailures)("reports %s as an init error, then exits non-zero", async (_, handler, errorType, message) => {
    const runtime = await startRuntime(handler);
    try {
      expect(runtime.readiness.ready).toBe(false);
      const error = JSON.parse((runtime.readiness as { error: Buffer }).error.toString());
      expect(error.errorType).toBe(errorType);
      expect(error.errorMessage).toMatch(message);
      expect(await runtime.exited).toBe(1);
      expect(runtime.output()).toContain(`[ERROR]\t`);
      if (errorType === "Runtime.UserCodeSyntaxError") expect(error.stackTrace[0]).toMatch(/bad_syntax\.py", line 2\n {4}def handler\(event, context\)\n/);
      // Init code's own frames, from the module's first line on.
      if (errorType === "KeyError") expect(error.stackTrace[0]).toMatch(/raises_at_import\.py", line 3, in <module>/);
    } finally {
      await runtime.stop();
    }
  });

  it("exits when the Runtime API is gone, instead of retrying forever", async () => {
    const runtime = await startRuntime("app.handler");
    try {
      runtime.api.close();
      const started = Date.now();
      expect(await runtime.exited).toBe(1);
      expect(Date.now() - started).toBeLessThan(5000);
      expect(runtime.output()).toContain("does not answer");
    } finally {
      await runtime.stop();
    }
  });
});

describe("Python runtime start", () => {
  it("asks for its first event within a few tens of milliseconds of being spawned", async () => {
    const times: number[] = [];
    for (let i = 0; i < 5; i++) {
      const runtime = await startRuntime("app.handler");
      times.push(runtime.startMs);
      await runtime.stop();
    }
    times.sort((a, b) => a - b);
    console.log(`python runtime, spawn to first /next: median ${times[2]!.toFixed(1)} ms (min ${times[0]!.toFixed(1)}, max ${times[4]!.toFixed(1)})`);
    // Generous for a loaded 2-core machine: the point is that nothing in the start waits or polls.
    expect(times[2]).toBeLessThan(1000);
  });
});
