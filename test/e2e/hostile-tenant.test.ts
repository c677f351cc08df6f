// A hostile tenant: a function whose handler attacks everything it can find from inside its container
// — Redis (by every address and credential it can dig up), other functions' runtime APIs, the admin
// API, and the freeze between invocations — while a victim function serves its callers. Every attack
// fails, and the victim's answers are all right and nothing it accepted is lost.

import { randomBytes } from "node:crypto";
import { beforeAll, describe, expect, it } from "vitest";
import { finalRecord, invokeAsync } from "../support/async.js";
import { deploy, invoke, startTestHearth, useTestHearth } from "../support/hearth.js";

const h = useTestHearth();
const SECRET = `victim-secret-${randomBytes(8).toString("hex")}`;

const VICTIM = `
exports.handler = async (event) => ({ n: event.n, secretIntact: process.env.SECRET === ${JSON.stringify(SECRET)} });
`;

// Each stage is one attack; the handler reports what it reached. Written against Node's standard
// library only, as a tenant's code would be.
const ATTACKER = String.raw`
const fs = require("node:fs");
const net = require("node:net");
const { spawn } = require("node:child_process");

const readable = (file) => { try { return fs.readFileSync(file, "latin1"); } catch { return undefined; } };
const pids = () => fs.readdirSync("/proc").filter((name) => /^\d+$/.test(name));

/** What a Redis at this address answers to AUTH (each candidate, and none) then PING. */
function probeRedis(target, password) {
  return new Promise((resolve) => {
    const socket = net.connect(target);
    let answer = "";
    const done = (outcome) => { socket.destroy(); resolve(outcome); };
    socket.setTimeout(300, () => done(answer));
    socket.on("error", (error) => done("error " + error.code));
    socket.on("connect", () => socket.write((password === undefined ? "" : "AUTH " + password + "\r\n") + "PING\r\n"));
    socket.on("data", (chunk) => { answer += chunk; if (answer.includes("PONG") || answer.split("\r\n").length > 2) done(answer); });
  });
}

/** Every TCP port open on this loopback: connects in parallel with short timeouts. */
async function openPorts() {
  const open = [];
  const tryPort = (port) => new Promise((resolve) => {
    const socket = net.connect({ host: "127.0.0.1", port });
    const end = (isOpen) => { if (isOpen) open.push(port); socket.destroy(); resolve(); };
    socket.setTimeout(200, () => end(false));
    // A connect from an ephemeral port to itself (TCP simultaneous open) is no listener.
    socket.on("connect", () => end(socket.localPort !== port));
    socket.on("error", () => end(false));
  });
  for (let first = 1; first <= 65535; first += 1000) {
    const batch = [];
    for (let port = first; port < first + 1000 && port <= 65535; port += 1) batch.push(tryPort(port));
    await Promise.all(batch);
  }
  return open.sort((a, b) => a - b);
}

/** Resolves once the file has ticks (a new node process takes a while to start on a loaded machine). */
async function ticking(file) {
  for (let waited = 0; waited < 2500 && ticks(file).length === 0; waited += 50) await new Promise((resolve) => setTimeout(resolve, 50));
  return ticks(file).length;
}

/** Appends the time to a file every 20 ms, from a process of its own session (or after a double fork). */
const ticker = (file) => "setInterval(() => require('fs').appendFileSync(" + JSON.stringify(file) + ", Date.now() + '\\n'), 20)";
const ticks = (file) => (readable(file) ?? "").split("\n").filter(Boolean).map(Number);

exports.handler = async (event) => {
  switch (event.stage) {
    case "recon": {
      // Secrets: its own environment, every process's environment and command line it can read.
      const environs = {};
      const cmdlines = {};
      for (const pid of pids()) {
        const environ = readable("/proc/" + pid + "/environ");
        if (environ !== undefined) environs[pid] = environ;
        cmdlines[pid] = readable("/proc/" + pid + "/cmdline");
      }
      const loot = [...Object.values(process.env), ...Object.values(environs).flatMap((e) => e.split("\0").map((v) => v.slice(v.indexOf("=") + 1)))].filter(Boolean);
      const passwords = ["", ...new Set(loot)].slice(0, 200);
      // Redis: the addresses a tenant knows of (the defaults, the host's, Hearth's socket), and every open port.
      const ports = await openPorts();
      const targets = [
        ...[6379, event.redisPort, ...ports].map((port) => ({ host: "127.0.0.1", port })),
        { path: "/run/hearth/redis/redis.sock" },
        { path: "/var/run/redis/redis-server.sock" },
      ];
      const redis = [];
      for (const target of targets) {
        const anonymous = await probeRedis(target, undefined);
        if (anonymous.includes("PONG")) redis.push({ target });
        // A Redis answers in RESP ("-NOAUTH …"): try every password found on it.
        if (!/^[-+]/.test(anonymous)) continue;
        for (const password of passwords) if ((await probeRedis(target, password)).includes("PONG")) redis.push({ target, password });
      }
      // The admin API on the host's loopback.
      const admin = await fetch("http://127.0.0.1:" + event.gatewayPort + "/system/functions").then((r) => "status " + r.status, (e) => "error " + (e.cause?.code ?? e.message));
      const socketDir = (() => { try { return fs.readdirSync("/run/hearth/redis"); } catch (e) { return "error " + e.code; } })();
      return {
        uid: process.getuid(),
        ownApiPort: Number(process.env.AWS_LAMBDA_RUNTIME_API.split(":")[1]),
        ports,
        redis,
        admin,
        socketDir,
        readableEnvirons: environs,
        environOfPid1: readable("/proc/1/environ") ?? "unreadable",
        sawSecrets: JSON.stringify({ env: process.env, environs, cmdlines }),
      };
    }
    case "daemon": {
      // setsid: a session and process group of its own, as a daemon makes.
      spawn("setsid", ["node", "-e", ticker("/tmp/daemon-ticks")], { detached: true, stdio: "ignore" }).unref();
      return { ticks: await ticking("/tmp/daemon-ticks"), endedAt: Date.now() };
    }
    case "daemon-check": {
      const startedAt = Date.now();
      const before = ticks("/tmp/daemon-ticks");
      await new Promise((resolve) => setTimeout(resolve, 300));
      return { startedAt, before, after: ticks("/tmp/daemon-ticks").length };
    }
    case "double-fork-and-hang": {
      // The intermediate shell exits at once: the ticker's parent is PID 1, outside every process group of the runtime.
      spawn("sh", ["-c", "node -e \"" + ticker("/tmp/orphan-ticks").replace(/"/g, '\\"') + "\" </dev/null >/dev/null 2>&1 &"], { stdio: "ignore" });
      const started = await ticking("/tmp/orphan-ticks");
      if (started === 0) return { started };
      return new Promise(() => setInterval(() => {}, 1000)); // Hangs until its timeout.
    }
    case "orphan-check": {
      const before = ticks("/tmp/orphan-ticks");
      await new Promise((resolve) => setTimeout(resolve, 300));
      const tickers = pids().filter((pid) => (readable("/proc/" + pid + "/cmdline") ?? "").includes("orphan-ticks"));
      return { now: Date.now(), lastTick: before.at(-1), grew: ticks("/tmp/orphan-ticks").length - before.length, tickers };
    }
  }
};
`;

beforeAll(async () => {
  expect((await deploy(h.url, "victim", { runtime: "node", maxContainers: 2, environment: { SECRET } }, { "index.js": VICTIM })).status).toBe(201);
  expect((await deploy(h.url, "attacker", { runtime: "node", maxContainers: 1, timeout: 60 }, { "index.js": ATTACKER })).status).toBe(201);
  expect((await deploy(h.url, "lingerer", { runtime: "node", maxContainers: 1, timeout: 4 }, { "index.js": ATTACKER })).status).toBe(201);
});

/** The victim's traffic while the attacks run: sync calls and async invocations, each checked. */
const victimCalls: Array<Promise<void>> = [];
function callVictim(n: number): void {
  victimCalls.push(
    invoke(h.url, "victim", { n }).then((answer) => {
      expect(answer.status).toBe(200);
      expect(answer.body).toEqual({ n, secretIntact: true });
    }),
  );
  victimCalls.push(
    invokeAsync(h.url, "victim", { n }).then(async (accepted) => {
      expect(accepted.status).toBe(202);
      expect(await finalRecord(h.url, accepted.body.id, 60_000)).toMatchObject({ status: "succeeded", attempts: 1, result: { n, secretIntact: true } });
    }),
  );
}

describe("a hostile tenant", () => {
  it("finds no Redis, no other function's runtime API, no admin API and no secret from its handler", async () => {
    for (let n = 0; n < 5; n += 1) callVictim(n);
    const gatewayPort = Number(new URL(h.url).port);
    const redisPort = Number(new URL(h.redisUrl).port);
    const recon = await invoke(h.url, "attacker", { stage: "recon", gatewayPort, redisPort });
    for (let n = 5; n < 10; n += 1) callVictim(n);
    expect(recon.status).toBe(200);
    const report = recon.body;
    expect(report.uid).toBe(10001);
    // Its own runtime API is the only port on its loopback: the victim's is in another network namespace.
    expect(report.ports).toEqual([report.ownApiPort]);
    // No Redis answered, by any address, with any password it found or none.
    expect(report.redis).toEqual([]);
    expect(report.admin).toMatch(/^error/);
    // The socket's folder is root's; PID 1's and the adapter's environments are closed to it.
    expect(report.socketDir).toBe("error EACCES");
    expect(report.environOfPid1).toBe("unreadable");
    for (const environ of Object.values<string>(report.readableEnvirons)) expect(environ).not.toContain("HEARTH_REDIS");
    expect(report.sawSecrets).not.toContain("HEARTH_REDIS_PASSWORD");
    expect(report.sawSecrets).not.toContain(SECRET);
  });

  it("refuses a function that asks for the host's network unless the operator allows it", async () => {
    const refused = await deploy(h.url, "escapee", { runtime: "node", network: "host" }, { "index.js": VICTIM });
    expect(refused.status).toBe(400);
    expect(await refused.json()).toMatchObject({ errorType: "NetworkNotAllowed" });

    // An API process that allows it does not make an invoker that does not start it.
    const lenient = await startTestHearth(h.redis, { roles: { api: true, invoker: false }, containerNetworks: ["host"] });
    try {
      expect((await deploy(lenient.url, "escapee", { runtime: "node", network: "host" }, { "index.js": VICTIM })).status).toBe(201);
      const answer = await invoke(lenient.url, "escapee", { n: 1 });
      expect(answer.status).toBe(503);
      expect(answer.body).toMatchObject({ errorType: "Hearth.ContainerStartFailed", errorMessage: expect.stringContaining("network host is not in HEARTH_CONTAINER_NETWORKS") });
    } finally {
      await lenient.stop();
    }
  });

  it("freezes a daemon a handler started in a session of its own between invocations", async () => {
    const started = await invoke(h.url, "lingerer", { stage: "daemon" });
    expect(started.status).toBe(200);
    expect(started.body.ticks).toBeGreaterThan(0);
    callVictim(10);
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    const check = await invoke(h.url, "lingerer", { stage: "daemon-check" });
    expect(check.status).toBe(200);
    const { before, after, startedAt } = check.body as { before: number[]; after: number; startedAt: number };
    // Frozen once its runtime is idle (20 ms after the handler returned, later on a loaded machine),
    // thawed with the next invocation: ticking every 20 ms, it wrote nothing for most of the 1.5 s between.
    // The check's own start closes the last gap: the thawed daemon may not have ticked yet when it reads.
    const points = [...before, startedAt];
    const gaps = points.slice(1).map((tick, i) => tick - points[i]!);
    expect(Math.max(...gaps), JSON.stringify({ endedAt: started.body.endedAt, startedAt, before })).toBeGreaterThan(1_000);
    // It was frozen, not killed: it ticks again while the next invocation runs.
    expect(after).toBeGreaterThan(before.length);
  });

  it("kills a double-forked grandchild when its handler times out", async () => {
    const hung = await invoke(h.url, "lingerer", { stage: "double-fork-and-hang" });
    expect(hung.status, JSON.stringify(hung.body)).toBe(504);
    callVictim(11);
    const check = await invoke(h.url, "lingerer", { stage: "orphan-check" });
    expect(check.status).toBe(200);
    expect(check.body.lastTick).toBeGreaterThan(0);
    expect(check.body.grew).toBe(0);
    expect(check.body.tickers).toEqual([]);
  });

  it("meanwhile answers every one of the victim's calls rightly, and loses none of its async invocations", async () => {
    expect(victimCalls.length).toBe(24);
    await Promise.all(victimCalls);
  });
});
