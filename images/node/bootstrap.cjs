#!/usr/bin/env node
// Hearth's Node.js runtime: a client of the AWS Lambda Runtime API (AWS_LAMBDA_RUNTIME_API) that runs
// Lambda-style handlers: `exports.handler = async (event, context) => …` or the callback form.
"use strict";

const http = require("node:http");
const fs = require("node:fs");
const path = require("node:path");
const { pathToFileURL } = require("node:url");

const [host, port] = process.env.AWS_LAMBDA_RUNTIME_API.split(":");
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
const PREFIX = "/2018-06-01/runtime";

function call(method, urlPath, body, headers = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host, port, method, path: urlPath, agent, headers }, (res) => {
      const chunks = [];
      res.on("data", (chunk) => chunks.push(chunk));
      res.on("end", () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end(body);
  });
}

/** Posts a result, once more on a fresh connection if the first attempt fails: a result is never dropped for a reset socket. */
async function post(urlPath, value, headers) {
  const body = Buffer.from(JSON.stringify(value === undefined ? null : value));
  const send = () => call("POST", urlPath, body, { "Content-Type": "application/json", "Content-Length": body.length, ...headers });
  try {
    return await send();
  } catch {
    return send();
  }
}

function errorPayload(error) {
  if (error instanceof Error) {
    return { errorType: error.name, errorMessage: error.message, trace: String(error.stack || "").split("\n") };
  }
  return { errorType: "Error", errorMessage: typeof error === "string" ? error : JSON.stringify(error), trace: [] };
}

class RuntimeError extends Error {
  constructor(name, message) {
    super(message);
    this.name = name;
  }
}

async function loadHandler() {
  const spec = process.env._HANDLER;
  const root = process.env.LAMBDA_TASK_ROOT;
  const dot = spec.lastIndexOf(".");
  const modulePath = spec.slice(0, dot);
  const exportName = spec.slice(dot + 1);
  const file = [".js", ".mjs", ".cjs"].map((ext) => path.join(root, modulePath + ext)).find((candidate) => fs.existsSync(candidate));
  if (!file) throw new RuntimeError("Runtime.ImportModuleError", `Error: Cannot find module '${modulePath}'`);
  let mod;
  try {
    mod = file.endsWith(".mjs") ? await import(pathToFileURL(file).href) : require(file);
  } catch (error) {
    if (error && error.code === "ERR_REQUIRE_ESM") mod = await import(pathToFileURL(file).href);
    else throw new RuntimeError("Runtime.ImportModuleError", `${error && error.name}: ${error && error.message}`);
  }
  const handler = mod[exportName] ?? (mod.default && mod.default[exportName]);
  if (typeof handler !== "function") throw new RuntimeError("Runtime.HandlerNotFound", `${spec} is undefined or not exported`);
  return handler;
}

function makeContext(headers) {
  const deadline = Number(headers["lambda-runtime-deadline-ms"]);
  return {
    functionName: process.env.AWS_LAMBDA_FUNCTION_NAME,
    functionVersion: process.env.AWS_LAMBDA_FUNCTION_VERSION,
    invokedFunctionArn: headers["lambda-runtime-invoked-function-arn"],
    memoryLimitInMB: process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
    awsRequestId: headers["lambda-runtime-aws-request-id"],
    logGroupName: process.env.AWS_LAMBDA_LOG_GROUP_NAME,
    logStreamName: process.env.AWS_LAMBDA_LOG_STREAM_NAME,
    callbackWaitsForEmptyEventLoop: true,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
  };
}

/** Runs the handler; the first of its callback and its returned promise decides the outcome. */
function invoke(handler, event, context) {
  return new Promise((resolve, reject) => {
    let settled = false;
    const settle = (error, result) => {
      if (settled) return;
      settled = true;
      if (error !== undefined && error !== null) reject(error);
      else resolve(result);
    };
    try {
      const returned = handler(event, context, settle);
      if (returned && typeof returned.then === "function") returned.then((result) => settle(null, result), (error) => settle(error ?? new Error("handler rejected")));
    } catch (error) {
      settle(error);
    }
  });
}

async function main() {
  let handler;
  try {
    handler = await loadHandler();
  } catch (error) {
    await post(`${PREFIX}/init/error`, errorPayload(error), { "Lambda-Runtime-Function-Error-Type": error.name });
    process.exit(1);
  }
  for (let failures = 0; ; ) {
    let next;
    try {
      next = await call("GET", `${PREFIX}/invocation/next`);
      failures = 0;
    } catch (error) {
      // A dropped connection is retried; a Runtime API that stays unreachable is gone, and so are we.
      if (++failures > 20) throw error;
      await new Promise((resolve) => setTimeout(resolve, 10 * failures));
      continue;
    }
    const id = next.headers["lambda-runtime-aws-request-id"];
    const context = makeContext(next.headers);
    let event;
    try {
      event = JSON.parse(next.body.toString("utf8"));
    } catch {
      event = next.body.toString("utf8");
    }
    try {
      const result = await invoke(handler, event, context);
      await post(`${PREFIX}/invocation/${id}/response`, result);
    } catch (error) {
      const payload = errorPayload(error);
      await post(`${PREFIX}/invocation/${id}/error`, payload, { "Lambda-Runtime-Function-Error-Type": payload.errorType });
    }
  }
}

main().catch((error) => {
  console.error("runtime failed:", error);
  process.exit(1);
});
