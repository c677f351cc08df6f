// A real Prometheus (Debian's `prometheus`, installed by scripts/setup.sh) for one test: on a free
// loopback port, its config and its TSDB in a temporary directory, stopped by its pid.

import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import os from "node:os";
import path from "node:path";
import { stringify } from "yaml";
import { eventually } from "./hearth.js";

export interface TestPrometheus {
  url: string;
  dir: string;
  /** An instant query's result: the series it returned. Throws on a query Prometheus cannot parse or run. */
  query(expr: string): Promise<Array<{ metric: Record<string, string>; value: [number, string] }>>;
  stop(): Promise<void>;
}

export interface PrometheusSetup {
  /** host:port of each target of the job `hearth`. */
  targets: string[];
  /** Rule files' contents (as objects), written next to the config and loaded by it. */
  ruleFiles: object[];
  scrapeInterval: string;
}

export async function startPrometheus(setup: PrometheusSetup): Promise<TestPrometheus> {
  const dir = await mkdtemp(path.join(os.tmpdir(), "hearth-test-prometheus-"));
  const ruleFiles = await Promise.all(
    setup.ruleFiles.map(async (rules, index) => {
      const file = path.join(dir, `rules-${index}.yml`);
      await writeFile(file, stringify(rules, { lineWidth: 0 }));
      return file;
    }),
  );
  const config = {
    global: { scrape_interval: setup.scrapeInterval, evaluation_interval: setup.scrapeInterval },
    rule_files: ruleFiles,
    scrape_configs: [{ job_name: "hearth", static_configs: [{ targets: setup.targets }] }],
  };
  await writeFile(path.join(dir, "prometheus.yml"), stringify(config));
  const port = await freePort();
  const child = spawn(
    "prometheus",
    [`--config.file=${path.join(dir, "prometheus.yml")}`, `--storage.tsdb.path=${path.join(dir, "data")}`, `--web.listen-address=127.0.0.1:${port}`, "--log.level=warn"],
    { stdio: ["ignore", "ignore", "inherit"] },
  );
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) process.kill(child.pid!, "SIGTERM");
    await exited;
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await eventually(async () => (await isReady(url, child)) || undefined, 30_000, "Prometheus to be ready");
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    url,
    dir,
    stop,
    async query(expr) {
      const response = await fetch(`${url}/api/v1/query`, { method: "POST", body: new URLSearchParams({ query: expr }) });
      const body = (await response.json()) as { status: string; error?: string; data?: { resultType: string; result: any[] } };
      if (body.status !== "success") throw new Error(`Prometheus refused ${expr}: ${body.error}`);
      return body.data!.resultType === "vector" ? body.data!.result : [];
    },
  };
}

/** promtool's verdict on some input: its exit code and what it printed. */
export function promtool(args: string[], input?: string): { status: number | null; output: string } {
  const result = spawnSync("promtool", args, { input, encoding: "utf8" });
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

async function isReady(url: string, child: ChildProcess): Promise<boolean> {
  if (child.exitCode !== null) throw new Error(`prometheus exited with ${child.exitCode}`);
  try {
    return (await fetch(`${url}/-/ready`)).status === 200;
  } catch {
    return false;
  }
}

/** A loopback port nothing listens on (at the moment of asking). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}
