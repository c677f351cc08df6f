// Handler sources the end-to-end suites deploy.

/**
 * A Node handler that reports where and when it ran, and on request sleeps, spins, throws or waits at
 * a barrier (an HTTP server of the test's on loopback, reachable because containers use host networking).
 */
export function probeHandler(label = "v1"): string {
  return `
const http = require("node:http");
let count = 0;
const arrive = (url) => new Promise((resolve, reject) => {
  http.get(url, (res) => { let body = ""; res.on("data", (c) => (body += c)); res.on("end", () => resolve(body)); }).on("error", reject);
});
exports.handler = async (event, context) => {
  count += 1;
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
