// The bench's calls to Hearth's HTTP API: deploy, delete, status, single invocations, pre-warming.

import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import * as tar from "tar";
import { NOOP_HANDLER } from "../paths.js";

export interface FunctionStatus {
  version: number;
  queued: number;
  containers: { starting: number; idle: number; busy: number };
}

export interface Invoked {
  status: number;
  body: string;
  /** Epoch ms (sub-ms precision) when the request was sent and when its answer was read. */
  sentAt: number;
  answeredAt: number;
}

export const nowMs = (): number => performance.timeOrigin + performance.now();
export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The no-op handler as a code package (tar.gz holding index.cjs), with `paddingMiB` files of 1 MiB of
 * random bytes beside it (gzip cannot shrink them: a package as large as a node_modules folder).
 */
export async function noopPackage(paddingMiB = 0): Promise<Buffer> {
  const dir = await mkdtemp(path.join(os.tmpdir(), "hearth-bench-pkg-"));
  try {
    await writeFile(path.join(dir, "index.cjs"), await readFile(NOOP_HANDLER));
    const names = ["index.cjs"];
    if (paddingMiB > 0) await mkdir(path.join(dir, "padding"));
    for (let i = 0; i < paddingMiB; i += 1) {
      names.push(`padding/${i}.bin`);
      await writeFile(path.join(dir, names.at(-1)!), randomBytes(1024 * 1024));
    }
    const chunks: Buffer[] = [];
    for await (const chunk of tar.c({ gzip: true, cwd: dir, portable: true }, names)) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export class HearthApi {
  private packageBytes?: Buffer;

  private readonly headers: Record<string, string>;

  constructor(
    readonly url: string,
    adminToken: string,
  ) {
    this.headers = { authorization: `Bearer ${adminToken}` };
  }

  /** Deploys the no-op function (or `code`, a package of it) with these settings (a new version each time). */
  async deploy(name: string, config: Record<string, unknown>, code?: Buffer): Promise<void> {
    this.packageBytes ??= await noopPackage();
    const form = new FormData();
    form.set("config", JSON.stringify({ runtime: "node", handler: "index.handler", ...config }));
    form.set("code", new Blob([new Uint8Array(code ?? this.packageBytes)]), "code.tgz");
    await expectOk(await fetch(`${this.url}/system/functions/${name}`, { method: "PUT", headers: this.headers, body: form }), `deploy ${name}`);
  }

  /** A settings-only deploy: a new version, so every container of the old one retires. */
  async redeploy(name: string, config: Record<string, unknown>): Promise<void> {
    const response = await fetch(`${this.url}/system/functions/${name}`, {
      method: "PUT",
      headers: { ...this.headers, "content-type": "application/json" },
      body: JSON.stringify({ runtime: "node", handler: "index.handler", ...config }),
    });
    await expectOk(response, `redeploy ${name}`);
  }

  async remove(name: string): Promise<void> {
    const response = await fetch(`${this.url}/system/functions/${name}`, { method: "DELETE", headers: this.headers });
    if (response.status !== 404) await expectOk(response, `delete ${name}`);
  }

  async status(name: string): Promise<FunctionStatus> {
    const response = await fetch(`${this.url}/system/functions/${name}`, { headers: this.headers });
    await expectOk(response.clone(), `status of ${name}`);
    return (await response.json()) as FunctionStatus;
  }

  async invoke(name: string, event: unknown = {}, route = "function"): Promise<Invoked> {
    const sentAt = nowMs();
    const response = await fetch(`${this.url}/${route}/${name}`, { method: "POST", headers: { ...this.headers, "content-type": "application/json" }, body: JSON.stringify(event) });
    const body = await response.text();
    return { status: response.status, body, sentAt, answeredAt: nowMs() };
  }

  /**
   * Brings a function to `count` warm containers: `count` requests that each hold a container for a
   * moment, so that every one of them needs a container of its own, until that many are up and idle.
   */
  async prewarm(name: string, count: number): Promise<void> {
    for (let attempt = 0; attempt < 10; attempt += 1) {
      const results = await Promise.all(Array.from({ length: count }, () => this.invoke(name, { sleepMs: 300 })));
      const failed = results.find((result) => result.status !== 200);
      if (failed) throw new Error(`pre-warming ${name}: ${failed.status} ${failed.body}`);
      const { containers } = await this.status(name);
      if (containers.idle + containers.busy + containers.starting >= count) break;
    }
    for (const until = Date.now() + 60_000; Date.now() < until; await sleep(50)) {
      const { containers } = await this.status(name);
      if (containers.idle >= count) return;
    }
    throw new Error(`pre-warming ${name}: ${count} containers did not become idle`);
  }
}

async function expectOk(response: Response, what: string): Promise<void> {
  if (response.ok) return;
  throw new Error(`${what}: HTTP ${response.status} ${await response.text()}`);
}
