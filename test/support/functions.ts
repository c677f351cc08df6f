// Handler sources the end-to-end suites deploy.

/**
 * A Node handler that reports where and when it ran, and on request sleeps, spins, throws or waits at
 * a barrier (an HTTP server of the test's on loopback: deploy with `network: "host"` from a test Hearth that
 * allows it, as containers have no network by default).
 * `report`: a URL it POSTs its request id to first, on every execution. `failIf`: a URL it asks; it
 * throws when the answer is "fail".
 */
export function probeHandler(label = "v1"): string {
  return `
const http = require("node:http");
let count = 0;
const arrive = (url) => new Promise((resolve, reject) => {
  http.get(url, (res) => { let body = ""; res.on("data", (c) => (body += c)); res.on("end", () => resolve(body)); }).on("error", reject);
});
const report = (url, body) => new Promise((resolve, reject) => {
  const req = http.request(url, { method: "POST" }, (res) => { res.resume(); res.on("end", resolve); });
  req.on("error", reject);
  req.end(body);
});
exports.handler = async (event, context) => {
  count += 1;
  if (event.report) await report(event.report, context.awsRequestId);
  if (event.failIf && (await arrive(event.failIf)) === "fail") throw new Error("told to fail");
  const start = Date.now();
  if (event.sleepMs) await new Promise((resolve) => setTimeout(resolve, event.sleepMs));
  if (event.spin) for (;;) {}
  if (event.fail) throw new TypeError(event.fail);
  if (event.exit !== undefined) process.exit(event.exit);
  const barrier = event.barrier ? await arrive(event.barrier) : undefined;
  return { label: ${JSON.stringify(label)}, container: context.logStreamName, count, start, end: Date.now(), barrier, echo: event.echo };
};
`;
}

/**
 * A Node handler for stream-triggered invocations; it reads what to do from the entry's fields.
 * `report`: a URL it POSTs `{function, requestId, event}` to first, on every execution. `gate`: a URL it
 * waits on. `fail`: it throws an Error with that message.
 */
export function streamHandler(): string {
  return `
const http = require("node:http");
const send = (url, method, body) => new Promise((resolve, reject) => {
  const req = http.request(url, { method }, (res) => { let text = ""; res.on("data", (c) => (text += c)); res.on("end", () => resolve(text)); });
  req.on("error", reject);
  req.end(body);
});
exports.handler = async (event, context) => {
  const { report, gate, fail } = event.fields;
  if (report) await send(report, "POST", JSON.stringify({ function: process.env.AWS_LAMBDA_FUNCTION_NAME, requestId: context.awsRequestId, event }));
  if (gate) await send(gate, "GET");
  if (fail) throw new Error(fail);
  return { entry: event.id };
};
`;
}
