// The Node runtime's share of a cold start: from spawning a bootstrap to its first GET /next (init
// done), on the host, with a minimal handler. Runs alternate between the bootstraps given, so that the
// load of a shared machine weighs on each alike; prints median and quartiles per bootstrap.
//   node bench/node-runtime-start.mjs [--runs 40] [--esm] [bootstrap …]
//   (default bootstrap: images/node/bootstrap.cjs; compare with an older one from `git show`)
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";

const { values, positionals } = parseArgs({ options: { runs: { type: "string", default: "40" }, esm: { type: "boolean", default: false } }, allowPositionals: true });
const bootstraps = (positionals.length > 0 ? positionals : ["images/node/bootstrap.cjs"]).map((file) => path.resolve(file));
const handlerFile = values.esm ? "index.mjs" : "index.js";

const root = mkdtempSync(path.join(os.tmpdir(), "hearth-bench-"));
writeFileSync(path.join(root, handlerFile), values.esm ? "export const handler = async (event) => event;\n" : "exports.handler = async (event) => event;\n");

let onNext;
const server = http.createServer((_req, res) => onNext(res));
await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
const env = { PATH: process.env.PATH, _HANDLER: "index.handler", LAMBDA_TASK_ROOT: root, AWS_LAMBDA_RUNTIME_API: `127.0.0.1:${server.address().port}` };

const times = bootstraps.map(() => []);
for (let run = 0; run < Number(values.runs); run++) {
  for (const [index, bootstrap] of bootstraps.entries()) {
    const firstNext = new Promise((resolve) => (onNext = resolve));
    const start = performance.now();
    const child = spawn(process.execPath, [bootstrap], { env, cwd: root, stdio: "inherit" });
    const res = await firstNext;
    times[index].push(performance.now() - start);
    res.destroy();
    child.kill("SIGKILL");
    await new Promise((resolve) => child.once("exit", resolve));
  }
}
server.close();
rmSync(root, { recursive: true, force: true });

for (const [index, bootstrap] of bootstraps.entries()) {
  const sorted = times[index].sort((a, b) => a - b);
  const at = (q) => sorted[Math.round(q * (sorted.length - 1))].toFixed(1);
  console.log(`${path.relative(process.cwd(), bootstrap)} (${handlerFile}, Node ${process.version}): median ${at(0.5)} ms, quartiles ${at(0.25)}–${at(0.75)} ms, ${sorted.length} runs`);
}
