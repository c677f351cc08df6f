#!/usr/bin/env node
// A custom runtime (runtime "custom", as Lambda's provided runtimes) written only against the published
// Lambda runtime API with Node's http module, knowing nothing of Hearth: /invocation/next, /response,
// /error and /init/error. Its function's environment steers it: FAIL_INIT reports an init error.
"use strict";
const http = require("node:http");

const [host, port] = process.env.AWS_LAMBDA_RUNTIME_API.split(":");

function call(method, path, body, headers = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host, port, method, path: `/2018-06-01/runtime${path}`, headers }, (res) => {
      const chunks = [];
      res.on("data", (chunk) => chunks.push(chunk));
      res.on("end", () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString("utf8") }));
    });
    req.on("error", reject);
    req.end(body);
  });
}

async function main() {
  if (process.env.FAIL_INIT) {
    await call("POST", "/init/error", JSON.stringify({ errorMessage: `cannot start: ${process.env.FAIL_INIT}`, errorType: "Custom.InitFailed" }), { "Lambda-Runtime-Function-Error-Type": "Custom.InitFailed" });
    process.exit(1);
  }
  for (;;) {
    const next = await call("GET", "/invocation/next");
    const id = next.headers["lambda-runtime-aws-request-id"];
    const event = JSON.parse(next.body);
    if (event.fail && event.raw) {
      await call("POST", `/invocation/${id}/error`, event.fail, { "Lambda-Runtime-Function-Error-Type": "Custom.Raw" });
    } else if (event.fail) {
      await call("POST", `/invocation/${id}/error`, JSON.stringify({ errorType: "Custom.Failure", errorMessage: event.fail, detail: { attempt: 1 } }));
    } else {
      const result = { handler: process.env._HANDLER, requestId: id, deadline: Number(next.headers["lambda-runtime-deadline-ms"]), event };
      await call("POST", `/invocation/${id}/response`, JSON.stringify(result), { "Content-Type": "application/json" });
    }
  }
}

main().catch((error) => {
  console.error("custom runtime failed:", error);
  process.exit(1);
});
