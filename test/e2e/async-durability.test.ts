// What a 202 promises when Redis itself goes away: an accepted invocation survives redis-server being
// killed (kill -9) and restarted, and while it is away callers get 503 at once, not a hang.

import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { freePort, waitForPing } from "../../gateway/redis/embedded-redis.js";
import { finalRecord, getInvocation, invokeAsync } from "../support/async.js";
import { probeHandler } from "../support/functions.js";
import { deploy, eventually, invoke, startTestHearth } from "../support/hearth.js";

const started: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const stop of started.reverse()) await stop();
});

describe("async invocation across a Redis restart", () => {
  it("keeps what it accepted through kill -9 of redis-server, and answers 503 while Redis is away", async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), "hearth-durability-"));
    started.push(() => rm(dir, { recursive: true, force: true }));
    const port = await freePort();
    let redis = await startRedisServer(port, dir);
    started.push(async () => void redis.kill("SIGKILL"));
    const address = { url: `redis://:${PASSWORD}@127.0.0.1:${port}`, socketPath: socketOf(dir) };

    const api = await startTestHearth(address, { roles: { api: true, invoker: false } });
    started.push(() => api.stop());
    expect((await deploy(api.url, "durable", { runtime: "node" }, { "index.js": probeHandler() })).status).toBe(201);
    const accepted = await invokeAsync(api.url, "durable", { echo: "kept" });
    expect(accepted.status).toBe(202);

    await kill(redis);
    const refused = await invokeAsync(api.url, "durable", { echo: "refused" });
    expect(refused.status).toBe(503);
    expect(refused.body).toMatchObject({ errorType: "Hearth.Unavailable" });
    // A sync caller too, at once: nothing waits for ioredis to reconnect.
    const syncStarted = Date.now();
    const syncRefused = await invoke(api.url, "durable", { echo: "sync" });
    expect(syncRefused).toMatchObject({ status: 503, body: { errorType: "Hearth.Unavailable" } });
    expect(Date.now() - syncStarted).toBeLessThan(1_000);

    redis = await startRedisServer(port, dir);
    // The gateway reconnects by itself; the record came back from the append-only file.
    await eventually(async () => ((await invokeAsync(api.url, "durable", { echo: "after" })).status === 202 ? true : undefined), 20_000, "the gateway to take requests again");
    expect((await getInvocation(api.url, accepted.body.id)).status).toBe("queued");

    const invoker = await startTestHearth(address, { roles: { api: false, invoker: true } });
    started.push(() => invoker.stop());
    expect(await finalRecord(api.url, accepted.body.id)).toMatchObject({ status: "succeeded", attempts: 1, result: { echo: "kept" } });
  });
});

const PASSWORD = randomBytes(16).toString("hex");

/** Its unix socket, which containers reach it by. */
function socketOf(dir: string): string {
  return path.join(dir, "redis.sock");
}

/** A redis-server as Hearth's embedded one runs (append-only file on, a password, a unix socket), on a port of the test's choosing. */
async function startRedisServer(port: number, dir: string): Promise<ChildProcess> {
  const settings = ["--bind", "127.0.0.1", "--port", String(port), "--unixsocket", socketOf(dir), "--unixsocketperm", "777", "--requirepass", PASSWORD];
  const child = spawn("redis-server", [...settings, "--dir", dir, "--appendonly", "yes", "--save", ""], { stdio: "ignore" });
  await waitForPing(`redis://:${PASSWORD}@127.0.0.1:${port}`);
  return child;
}

async function kill(child: ChildProcess): Promise<void> {
  const exited = new Promise((resolve) => child.once("exit", resolve));
  child.kill("SIGKILL");
  await exited;
}
