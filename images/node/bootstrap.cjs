#!/usr/bin/env node
// Hearth's Node.js runtime: a client of the AWS Lambda Runtime API (AWS_LAMBDA_RUNTIME_API) that runs
// Lambda handlers unmodified: CommonJS or ES modules, async or callback form, Lambda's context object,
// error shapes and log lines. One file without dependencies, because it runs at every cold start.
//
// When an invocation is done follows Lambda's rules:
//  - the handler's promise settles, or it calls callback(error) or context.succeed/fail/done: at once;
//  - callback(null, result) while context.callbackWaitsForEmptyEventLoop is true (the default): once
//    the event loop is empty, that is once the timers and sockets the handler left running are done;
//  - a handler that neither calls back nor returns a promise answers null once the loop is empty.
// Node emits 'beforeExit' when its event loop empties. The runtime's only handle of its own is its
// keep-alive socket to the Runtime API, which http.Agent unrefs while it is idle, so it never holds the
// loop open during a handler. A handler whose leftovers outlast its timeout is stopped by the adapter,
// which kills this process.
"use strict";

const http = require("node:http");
const fs = require("node:fs");
const path = require("node:path");
const util = require("node:util");

const API_PREFIX = "/2018-06-01/runtime";
const [apiHost, apiPort] = (process.env.AWS_LAMBDA_RUNTIME_API || "").split(":");
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });

/** What to do when the event loop has emptied (see the top of the file). */
let onEmptyLoop;
/** The invocation that has not been answered yet: {id, answering?: Promise}. */
let current;
let initializing = true;
let exiting = false;

// ---- Logs: Lambda's "<ISO time>\t<request id>\t<LEVEL>\t<message>", the id empty outside an invocation.

let logRequestId = "";

function writeLog(toStderr, level, message) {
  (toStderr ? process.stderr : process.stdout).write(`${new Date().toISOString()}\t${logRequestId}\t${level}\t${message}\n`);
}

function patchConsole() {
  // stdout and stderr are pipes to the adapter, which gives each line to the invocation running when it
  // reads it. Blocking writes (as to a file or terminal) put every line of a handler in the pipe before
  // its answer goes out, however much it writes; Node would otherwise queue what a full pipe cannot take.
  for (const stream of [process.stdout, process.stderr]) stream._handle?.setBlocking?.(true);
  const levels = { log: "INFO", info: "INFO", debug: "DEBUG", warn: "WARN", error: "ERROR" };
  for (const [method, level] of Object.entries(levels)) {
    const toStderr = level === "WARN" || level === "ERROR";
    console[method] = (...args) => writeLog(toStderr, level, util.format(...args));
  }
  console.trace = function trace(...args) {
    const traced = { name: "Trace", message: util.format(...args) };
    Error.captureStackTrace(traced, trace);
    writeLog(true, "TRACE", traced.stack);
  };
}

// ---- Runtime API client

function call(method, urlPath, body, headers = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: apiHost, port: apiPort, method, path: urlPath, agent, headers }, (res) => {
      const chunks = [];
      res.on("data", (chunk) => chunks.push(chunk));
      res.on("end", () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end(body);
  });
}

/** Posts to the Runtime API, once more on a fresh connection if the first attempt fails: a result is never dropped for a reset socket. */
async function post(urlPath, body, headers = {}) {
  const send = () => call("POST", API_PREFIX + urlPath, body, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(body), ...headers });
  let reply;
  try {
    reply = await send();
  } catch {
    reply = await send();
  }
  if (reply.status !== 202) writeLog(true, "ERROR", `the Runtime API answered ${reply.status} to ${urlPath}: ${reply.body}`);
}

function postError(urlPath, payload) {
  // An odd error name must not make an invalid header (which would throw here).
  const errorType = /^[\x20-\x7e]{1,200}$/.test(payload.errorType) ? payload.errorType : "Unhandled";
  return post(urlPath, JSON.stringify(payload), { "Lambda-Runtime-Function-Error-Type": errorType });
}

async function nextInvocation() {
  for (let failures = 0; ; ) {
    try {
      const reply = await call("GET", `${API_PREFIX}/invocation/next`);
      if (reply.status === 200) return reply;
      throw new Error(`the Runtime API answered ${reply.status} to /next: ${reply.body}`);
    } catch (error) {
      // A dropped connection is retried; a Runtime API that stays unreachable is gone, and so are we.
      if (++failures > 20) throw error;
      await new Promise((resolve) => setTimeout(resolve, 10 * failures));
    }
  }
}

// ---- Errors: Lambda's {errorType, errorMessage, trace}

function errorPayload(errorType, errorMessage, trace = []) {
  return { errorType, errorMessage, trace };
}

function stackLines(error) {
  return typeof error.stack === "string" ? error.stack.split("\n") : [];
}

/** Any value, readable: JSON when it has a JSON form, else as util.inspect shows it. */
function describe(value) {
  try {
    const json = JSON.stringify(value);
    if (json !== undefined) return json;
  } catch {
    // Circular or BigInt: inspect copes.
  }
  return util.inspect(value, { depth: 4, breakLength: Infinity });
}

/** The error payload for anything a handler throws or fails with. */
function toErrorPayload(value) {
  try {
    const errorLike = value !== null && typeof value === "object" && typeof value.name === "string" && typeof value.message === "string";
    if (util.types.isNativeError(value) || errorLike) return errorPayload(String(value.name), String(value.message), stackLines(value));
    // Lambda's types for what is not an Error: "string", "number", "object"…
    if (typeof value === "string") return errorPayload("string", value);
    if (value === undefined || value === null) return errorPayload(String(value), `the handler failed with ${value} instead of an error`);
    return errorPayload(typeof value, describe(value));
  } catch {
    return errorPayload("Error", "the handler failed with an error whose name, message or stack cannot be read");
  }
}

function unhandledRejectionPayload(reason) {
  const { errorType, errorMessage, trace } = toErrorPayload(reason);
  const message = util.types.isNativeError(reason) ? `${errorType}: ${errorMessage}` : errorMessage;
  return errorPayload("Runtime.UnhandledPromiseRejection", message, trace);
}

/**
 * An error outside every promise and callback chain: it fails the init or the invocation it broke,
 * then the process exits and the adapter starts a fresh runtime, as Lambda does.
 */
async function failAndExit(payload, label, exitCode) {
  // The first such error decides; another one on the way out (a closed stderr, say) must not loop.
  if (exiting) return;
  exiting = true;
  try {
    writeLog(true, "ERROR", `${label}\t${JSON.stringify(payload)}`);
    if (initializing) await postError("/init/error", payload);
    else if (current) await answer(current, { error: payload });
  } finally {
    process.exit(exitCode);
  }
}

// ---- Loading the handler: "<path>.<export>", the module in LAMBDA_TASK_ROOT as <path>.js, .mjs or .cjs

class InitError extends Error {
  constructor(errorType, message, trace) {
    super(message);
    this.payload = errorPayload(errorType, message, trace);
  }
}

/** A .js file is an ES module when its nearest package.json says "type": "module", as Node decides. */
function isEsModule(file) {
  if (file.endsWith(".mjs")) return true;
  if (file.endsWith(".cjs")) return false;
  for (let dir = path.dirname(file); ; dir = path.dirname(dir)) {
    let text;
    try {
      text = fs.readFileSync(path.join(dir, "package.json"), "utf8");
    } catch {
      if (dir === path.dirname(dir)) return false;
      continue;
    }
    try {
      return JSON.parse(text).type === "module";
    } catch {
      return false;
    }
  }
}

function isFile(file) {
  try {
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

async function importFile(file) {
  return import(require("node:url").pathToFileURL(file).href);
}

async function loadModule(file) {
  if (isEsModule(file)) return importFile(file);
  try {
    return require(file);
  } catch (error) {
    // Node 22 can require() ES modules it detects by their syntax, but not those with top-level await.
    if (error && (error.code === "ERR_REQUIRE_ESM" || error.code === "ERR_REQUIRE_ASYNC_MODULE")) return importFile(file);
    throw error;
  }
}

async function loadHandler(spec) {
  const root = process.env.LAMBDA_TASK_ROOT || process.cwd();
  const dot = spec.lastIndexOf(".");
  if (dot <= 0 || dot === spec.length - 1) throw new InitError("Runtime.MalformedHandlerName", `handler '${spec}' is not <file>.<export>, for example index.handler`);
  const modulePath = spec.slice(0, dot);
  const exportName = spec.slice(dot + 1);

  const candidates = [".js", ".mjs", ".cjs"].map((extension) => path.resolve(root, modulePath + extension));
  const file = candidates.find(isFile);
  if (!file) throw new InitError("Runtime.ImportModuleError", `Cannot find module '${modulePath}': there is no ${modulePath}.js, ${modulePath}.mjs or ${modulePath}.cjs in ${root}`);
  const shortName = path.relative(root, file);

  let loaded;
  try {
    loaded = await loadModule(file);
  } catch (error) {
    if (error instanceof SyntaxError) {
      // CommonJS syntax errors start their stack with "<file>:<line>": the place to look.
      const location = stackLines(error)[0]?.startsWith(file) ? path.relative(root, stackLines(error)[0]) : shortName;
      throw new InitError("Runtime.UserCodeSyntaxError", `SyntaxError in ${location}: ${error.message}`, stackLines(error));
    }
    const { errorType, errorMessage, trace } = toErrorPayload(error);
    throw new InitError("Runtime.ImportModuleError", `Error loading ${shortName}: ${errorType}: ${errorMessage}`, trace);
  }

  // `export default { handler }` (or a transpiler's exports.default) is found too.
  const handler = loaded?.[exportName] ?? loaded?.default?.[exportName];
  if (typeof handler !== "function") {
    const exported = (loaded !== null && loaded !== undefined && Object.keys(loaded).join(", ")) || "none";
    const what = handler === undefined ? "is undefined or not exported" : `is a ${typeof handler}, not a function`;
    throw new InitError("Runtime.HandlerNotFound", `${spec} ${what} (${shortName} exports: ${exported})`);
  }
  return handler;
}

// ---- One invocation

function parseJsonHeader(value) {
  if (value === undefined) return undefined;
  try {
    return JSON.parse(value);
  } catch {
    return undefined;
  }
}

function makeContext(headers) {
  const deadlineMs = Number(headers["lambda-runtime-deadline-ms"]);
  return {
    functionName: process.env.AWS_LAMBDA_FUNCTION_NAME,
    functionVersion: process.env.AWS_LAMBDA_FUNCTION_VERSION,
    invokedFunctionArn: headers["lambda-runtime-invoked-function-arn"],
    memoryLimitInMB: process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
    awsRequestId: headers["lambda-runtime-aws-request-id"],
    logGroupName: process.env.AWS_LAMBDA_LOG_GROUP_NAME,
    logStreamName: process.env.AWS_LAMBDA_LOG_STREAM_NAME,
    identity: parseJsonHeader(headers["lambda-runtime-cognito-identity"]),
    clientContext: parseJsonHeader(headers["lambda-runtime-client-context"]),
    callbackWaitsForEmptyEventLoop: true,
    getRemainingTimeInMillis: () => Math.max(0, deadlineMs - Date.now()),
  };
}

/** Runs the handler; resolves with {response} or {error} once the invocation is done (see the top). */
function runHandler(handler, event, context) {
  return new Promise((resolve) => {
    let decided = false;
    let returnedPromise = false;
    // The first of callback, context.succeed/fail/done and the returned promise decides; later calls are ignored.
    const decide = (outcome, whenLoopEmpty = false) => {
      if (decided) return;
      decided = true;
      if (whenLoopEmpty) {
        onEmptyLoop = () => setImmediate(resolve, outcome);
      } else {
        onEmptyLoop = undefined;
        resolve(outcome);
      }
    };
    const succeed = (result) => decide({ response: result });
    const fail = (error) => decide({ error: toErrorPayload(error) });
    const callback = (error, result) => {
      if (error === undefined || error === null) decide({ response: result }, context.callbackWaitsForEmptyEventLoop);
      else fail(error);
    };
    context.succeed = succeed;
    context.fail = fail;
    context.done = (error, result) => (error === undefined || error === null ? succeed(result) : fail(error));

    // Once the loop is empty, nothing is left that could still decide.
    onEmptyLoop = () => {
      if (returnedPromise) decide({ error: errorPayload("Runtime.NodeJsExit", "the handler's promise never settled, and nothing left in the event loop could settle it") });
      else succeed(null);
    };
    try {
      const returned = handler(event, context, callback);
      if (returned && typeof returned.then === "function") {
        returnedPromise = true;
        Promise.resolve(returned).then(succeed, fail);
      }
    } catch (error) {
      fail(error);
    }
  });
}

/** Posts an invocation's outcome, once; a result JSON cannot represent answers Runtime.MarshalError. */
function answer(invocation, outcome) {
  invocation.answering ??= (async () => {
    const id = encodeURIComponent(invocation.id);
    let { error } = outcome;
    if (!error) {
      let body;
      try {
        body = JSON.stringify(outcome.response) ?? "null";
      } catch (cause) {
        error = errorPayload("Runtime.MarshalError", `Unable to stringify the handler's result: ${toErrorPayload(cause).errorMessage}`);
      }
      if (body !== undefined) return post(`/invocation/${id}/response`, body);
    }
    writeLog(true, "ERROR", `Invoke Error\t${JSON.stringify(error)}`);
    return postError(`/invocation/${id}/error`, error);
  })();
  return invocation.answering;
}

/**
 * A Function Compute lifecycle hook (initializer or preStop), named by its /next's x-fc-function-handler:
 * FC's `(context, callback)` or `async (context)` form. Loaded once; a hook that cannot be loaded fails
 * its call with the load error.
 */
const hooks = new Map();

async function runHook(spec, context) {
  if (!hooks.has(spec)) hooks.set(spec, await loadHandler(spec).catch((error) => error));
  const hook = hooks.get(spec);
  if (typeof hook !== "function") return { error: hook instanceof InitError ? hook.payload : toErrorPayload(hook) };
  return runHandler((event, hookContext, callback) => hook(hookContext, callback), undefined, context);
}

async function serve(handler) {
  for (;;) {
    const next = await nextInvocation();
    const { headers } = next;
    const id = String(headers["lambda-runtime-aws-request-id"]);
    const controlPath = headers["x-fc-control-path"];
    if (controlPath === "/initialize" || controlPath === "/pre-stop") {
      current = { id };
      logRequestId = id;
      await answer(current, await runHook(String(headers["x-fc-function-handler"]), makeContext(headers)));
      current = undefined;
      logRequestId = "";
      continue;
    }
    const traceId = headers["lambda-runtime-trace-id"];
    if (traceId) process.env._X_AMZN_TRACE_ID = traceId;
    else delete process.env._X_AMZN_TRACE_ID;
    let event;
    try {
      event = JSON.parse(next.body.toString("utf8"));
    } catch {
      event = next.body.toString("utf8");
    }

    current = { id };
    logRequestId = id;
    const outcome = await runHandler(handler, event, makeContext(headers));
    await answer(current, outcome);
    current = undefined;
    logRequestId = "";
  }
}

async function main() {
  patchConsole();
  process.on("beforeExit", () => {
    const action = onEmptyLoop;
    onEmptyLoop = undefined;
    action?.();
  });
  process.on("uncaughtException", (error) => failAndExit(toErrorPayload(error), "Uncaught Exception", 129));
  process.on("unhandledRejection", (reason) => failAndExit(unhandledRejectionPayload(reason), "Unhandled Promise Rejection", 128));

  // A top-level await that waits for nothing would otherwise let the process end without a word.
  onEmptyLoop = () => failAndExit(errorPayload("Runtime.ImportModuleError", "the handler module's top-level await never settled"), "Init Error", 1);
  let handler;
  try {
    handler = await loadHandler(process.env._HANDLER || "");
  } catch (error) {
    return failAndExit(error instanceof InitError ? error.payload : toErrorPayload(error), "Init Error", 1);
  }
  onEmptyLoop = undefined;
  initializing = false;
  await serve(handler);
}

main().catch((error) => {
  writeLog(true, "ERROR", `the runtime failed: ${error && error.stack}`);
  process.exit(1);
});
