// A hostile function gets only its own share of the host: a read-only root, a /tmp of its own size
// that never reaches the host's disk, a bounded log, its memory limit (named when it is hit), its
// processes; and one invoker never starts more containers or memory than its host has room for.

import { readFile, stat, statfs, writeFile } from "node:fs/promises";
import { describe, expect, it } from "vitest";
import { LABELS } from "../../gateway/invoker/docker-backend.js";
import { finalRecord, invokeAsync } from "../support/async.js";
import { adminHeaders, deploy, docker, invoke, listContainers, useTestHearth, eventually } from "../support/hearth.js";
import { scrape } from "../support/metrics.js";
import { probeHandler } from "../support/functions.js";

const MiB = 1024 * 1024;

const h = useTestHearth();

/** Does on request what a hostile tenant would: fill /tmp, write anywhere, print, allocate, fork. */
const hostileHandler = `
const fs = require("node:fs");
const { spawn } = require("node:child_process");
const tryWrite = (file) => { try { fs.writeFileSync(file, "x"); return "written"; } catch (e) { return e.code; } };
exports.handler = async (event) => {
  if (event.fillTmpMb) {
    const chunk = Buffer.alloc(1 << 20, 7);
    const fd = fs.openSync("/tmp/fill", "w");
    let writtenMb = 0, code = "none";
    try { for (; writtenMb < event.fillTmpMb; writtenMb++) fs.writeSync(fd, chunk); } catch (e) { code = e.code; }
    fs.closeSync(fd);
    if (!event.keep) fs.unlinkSync("/tmp/fill");
    return { writtenMb, code };
  }
  if (event.writeTo) return Object.fromEntries(event.writeTo.map((file) => [file, tryWrite(file)]));
  if (event.printMb) {
    const line = "y".repeat(1023) + "\\n";
    const mb = line.repeat(1024);
    for (let i = 0; i < event.printMb; i++) process.stdout.write(mb);
    // The pipe may take it in slower than it is written: return once it has all of it.
    await new Promise((resolve) => process.stdout.write("printed-all\\n", resolve));
    return { printedMb: event.printMb };
  }
  if (event.allocateMb) {
    const held = [];
    for (let i = 0; i < event.allocateMb; i += 16) held.push(Buffer.alloc(16 << 20, 1));
    return { allocated: held.length * 16 };
  }
  if (event.fork) {
    // Bounded: at most event.fork children, each gone after event.seconds.
    let spawned = 0, failed = 0;
    const exits = [];
    for (let i = 0; i < event.fork; i++) {
      const child = spawn("sleep", [String(event.seconds)], { stdio: "ignore" });
      exits.push(new Promise((resolve) => {
        child.once("spawn", () => { spawned++; child.once("exit", resolve); });
        child.once("error", () => { failed++; resolve(); });
      }));
    }
    await Promise.all(exits);
    return { spawned, failed };
  }
  return { ok: true, home: process.env.HOME };
};
`;

const deployHostile = (name: string, settings: object = {}) => deploy(h.url, name, { runtime: "node", timeout: 60, ...settings }, { "index.js": hostileHandler });

/** Bytes in use on the file system of Docker's data root (overlay layers, volumes, logs). */
async function dockerDiskUsed(): Promise<number> {
  const root = (await docker.info()).DockerRootDir as string;
  const fs = await statfs(root);
  return (fs.blocks - fs.bfree) * fs.bsize;
}

/** The attributes of the container's next `die` event. */
async function dieEvent(dockerId: string): Promise<Record<string, string>> {
  const events = (await docker.getEvents({ filters: { type: ["container"], event: ["die"], container: [dockerId] } })) as NodeJS.ReadableStream & { destroy(): void };
  return new Promise((resolve) => {
    events.once("data", (chunk: Buffer) => {
      events.destroy();
      resolve((JSON.parse(chunk.toString("utf8").split("\n")[0]!) as { Actor: { Attributes: Record<string, string> } }).Actor.Attributes);
    });
  });
}

describe("a function container's resources", () => {
  it("keeps /tmp off the host's disk: a tmpfs of ephemeralStorage MiB, full at its size", async () => {
    expect((await deployHostile("filler", { memory: 1024, ephemeralStorage: 768 })).status).toBe(201);
    expect((await invoke(h.url, "filler")).status).toBe(200); // a warm container first: its start writes to disk
    const before = await dockerDiskUsed();
    const filled = await invoke(h.url, "filler", { fillTmpMb: 1024 });
    const after = await dockerDiskUsed();
    expect(filled.status).toBe(200);
    expect(filled.body).toEqual({ writtenMb: 768, code: "ENOSPC" });
    // 768 MiB were written; other suites on this machine write too, so only a share of it is ruled out.
    expect(after - before).toBeLessThan(256 * MiB);
    const [container] = await listContainers(h.invokerId, "filler");
    const inspected = await docker.getContainer(container!.Id).inspect();
    expect(inspected.HostConfig.ReadonlyRootfs).toBe(true);
    expect(inspected.HostConfig.Tmpfs?.["/tmp"]).toContain("size=768m");
  });

  it("lets a function write nowhere but /tmp: not the root, not its code (a read-only mount of the code cache), not /opt", async () => {
    await deployHostile("writer");
    const wrote = await invoke(h.url, "writer", { writeTo: ["/evil", "/var/task/evil", "/var/task/index.js", "/opt/evil", "/opt/hearth/runtime/bootstrap", "/etc/passwd", "/tmp/fine"] });
    expect(wrote.body).toEqual({
      "/evil": "EROFS",
      "/var/task/evil": "EROFS",
      "/var/task/index.js": "EROFS",
      "/opt/evil": "EROFS",
      "/opt/hearth/runtime/bootstrap": "EROFS",
      "/etc/passwd": "EROFS",
      "/tmp/fine": "written",
    });
    expect((await invoke(h.url, "writer")).body).toEqual({ ok: true, home: "/tmp" });
  });

  it("bounds the function's log, however much the function prints, and writes none of it to the host", async () => {
    await deployHostile("chatty");
    expect((await invoke(h.url, "chatty")).status).toBe(200);
    const [container] = await listContainers(h.invokerId, "chatty");
    const { LogPath } = await docker.getContainer(container!.Id).inspect();
    const printed = await invoke(h.url, "chatty", { printMb: 200 });
    expect(printed.body).toEqual({ printedMb: 200 });
    const id = printed.headers.get("x-call-id")!;
    // Its first lines up to the cap per invocation, where it was cut, then END and REPORT.
    const last = await eventually(async () => {
      const { lines } = (await (await fetch(`${h.url}/invocations/${id}/logs?limit=4`, { headers: adminHeaders })).json()) as { lines: Array<{ stream: string; message: string }> };
      return lines.at(-1)?.message.startsWith("REPORT") ? lines : undefined;
    }, 30_000, "the invocation's REPORT line");
    expect(last.map((line) => line.stream)).toEqual(["stdout", "platform", "platform", "platform"]);
    expect(last[0]!.message).toBe("y".repeat(1023));
    expect(last[1]!.message).toMatch(/^Hearth: output cut here: more than 1000 lines/);
    expect(await h.client.xlen("hearth:{chatty}:logs")).toBeLessThan(1100);
    // The container's own log on the host holds the adapter's lines only (and is bounded by Docker, as before).
    expect((await stat(LogPath)).size).toBeLessThan(64 * 1024);
  });

  it("names out of memory: 502 Runtime.OutOfMemory, counted, sync and async alike; the next call gets a fresh runtime", async () => {
    await deployHostile("hog", { memory: 128, maxRetries: 0 });
    expect((await invoke(h.url, "hog")).status).toBe(200);

    const killed = await invoke(h.url, "hog", { allocateMb: 1024 });
    expect(killed.status).toBe(502);
    expect(killed.body).toMatchObject({ errorType: "Runtime.OutOfMemory", errorMessage: "function hog exceeded its memory limit of 128 MB" });
    expect((await invoke(h.url, "hog")).body).toEqual({ ok: true, home: "/tmp" });

    const accepted = await invokeAsync(h.url, "hog", { allocateMb: 1024 });
    const record = await finalRecord(h.url, accepted.body.id);
    expect(record).toMatchObject({ status: "dead-lettered", statusCode: 502, error: { errorType: "Runtime.OutOfMemory", errorMessage: "function hog exceeded its memory limit of 128 MB" } });

    // A /tmp filled past the memory limit: its pages are memory too.
    const filled = await invoke(h.url, "hog", { fillTmpMb: 512, keep: true });
    expect(filled.status).toBe(502);
    expect(filled.body).toMatchObject({ errorType: "Runtime.OutOfMemory" });
    expect((await invoke(h.url, "hog")).body).toEqual({ ok: true, home: "/tmp" });

    const metrics = await scrape(h.url);
    expect(metrics('hearth_out_of_memory_total{function="hog"}')).toBe(3);
    expect(metrics('hearth_invocations_total{function="hog",outcome="out_of_memory"}')).toBe(2);
    expect(metrics('hearth_async_invocations_total{function="hog",outcome="out_of_memory"}')).toBe(1);
  });

  it("names out of memory when the kernel kills the whole container (its adapter) for it", async () => {
    await deployHostile("sinker", { memory: 128, maxContainers: 1 });
    expect((await invoke(h.url, "sinker")).status).toBe(200);
    const [container] = await listContainers(h.invokerId, "sinker");
    // The kernel's pick among the container's processes: the adapter, made the likeliest from the host.
    const { Processes } = await docker.getContainer(container!.Id).top({ ps_args: "-o pid,args" });
    const adapter = Processes!.find((row: string[]) => row.join(" ").includes("adapter.cjs") && !row.join(" ").includes("docker-init"));
    await writeFile(`/proc/${adapter![0]!.trim().split(/\s+/)[0]}/oom_score_adj`, "1000");

    const died = dieEvent(container!.Id);
    const killed = await invoke(h.url, "sinker", { allocateMb: 1024 });
    expect(await died).toMatchObject({ exitCode: "137" }); // the container died, not only its runtime
    expect(killed.status).toBe(502);
    expect(killed.body).toMatchObject({ errorType: "Runtime.OutOfMemory", errorMessage: "function sinker exceeded its memory limit of 128 MB" });
    expect((await invoke(h.url, "sinker")).body).toEqual({ ok: true, home: "/tmp" });
    const metrics = await scrape(h.url);
    expect(metrics('hearth_out_of_memory_total{function="sinker"}')).toBe(1);
    // Answered by the invoker, not the adapter: the same outcome.
    expect(metrics('hearth_invocations_total{function="sinker",outcome="out_of_memory"}')).toBe(1);
  });

  it("keeps a fork bomb inside the container's pids limit while another function's calls all answer", async () => {
    await deployHostile("bomb", { memory: 512 });
    await deploy(h.url, "bystander", { runtime: "node" }, { "index.js": probeHandler() });
    expect((await invoke(h.url, "bystander")).status).toBe(200);
    expect((await invoke(h.url, "bomb")).status).toBe(200);
    const [container] = await listContainers(h.invokerId, "bomb");
    expect((await docker.getContainer(container!.Id).inspect()).HostConfig.PidsLimit).toBe(1024);

    const bomb = invoke(h.url, "bomb", { fork: 1500, seconds: 4 });
    const answers: number[] = [];
    const until = Date.now() + 4_000;
    while (Date.now() < until) {
      answers.push((await invoke(h.url, "bystander")).status);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const exploded = await bomb;
    expect(exploded.status).toBe(200);
    expect(exploded.body.failed).toBeGreaterThan(0);
    expect(exploded.body.spawned).toBeLessThan(1024);
    expect(answers.length).toBeGreaterThan(5);
    expect(answers.every((status) => status === 200)).toBe(true);
  });
});

describe("an invoker's host caps", () => {
  const capped = useTestHearth({ hostLimits: { maxContainers: 2, maxMemoryMb: 1024 } });

  it("never runs more containers than HEARTH_MAX_CONTAINERS: work waits, idle containers of other functions make room", async () => {
    for (const name of ["one", "two", "three"]) await deploy(capped.url, name, { runtime: "node", memory: 128 }, { "index.js": probeHandler() });
    let running = 0;
    let most = 0;
    const events = (await docker.getEvents({ filters: { type: ["container"], event: ["start", "die"], label: [`${LABELS.invoker}=${capped.invokerId}`] } })) as NodeJS.ReadableStream & { destroy(): void };
    events.on("data", (chunk: Buffer) => {
      for (const line of chunk.toString("utf8").split("\n").filter(Boolean)) {
        running += (JSON.parse(line) as { Action: string }).Action === "start" ? 1 : -1;
        most = Math.max(most, running);
      }
    });
    try {
      for (let round = 0; round < 2; round++) {
        const answers = await Promise.all(["one", "two", "three", "one", "two", "three"].map((name) => invoke(capped.url, name, { sleepMs: 200 })));
        expect(answers.map((answer) => answer.status)).toEqual([200, 200, 200, 200, 200, 200]);
      }
      expect((await listContainers(capped.invokerId)).filter((info) => info.State === "running").length).toBeLessThanOrEqual(2);
    } finally {
      events.destroy();
    }
    expect(most).toBe(2);
    const metrics = await scrape(capped.url);
    expect(metrics("hearth_invoker_evictions_total")).toBeGreaterThan(0);
    expect(metrics('hearth_invoker_containers{kind="limit"}')).toBe(2);
    expect(metrics('hearth_invoker_containers{kind="held"}')).toBeLessThanOrEqual(2);
  });

  it("answers 503 at once for a function whose memory alone exceeds HEARTH_MAX_MEMORY_MB", async () => {
    await deploy(capped.url, "giant", { runtime: "node", memory: 2048 }, { "index.js": probeHandler() });
    const started = Date.now();
    const answer = await invoke(capped.url, "giant");
    expect(answer.status).toBe(503);
    expect(answer.body).toMatchObject({ errorType: "Hearth.InsufficientCapacity" });
    expect(answer.body.errorMessage).toContain("HEARTH_MAX_MEMORY_MB=1024");
    expect(Date.now() - started).toBeLessThan(5_000);
    await eventually(async () => ((await listContainers(capped.invokerId, "giant")).length === 0 ? true : undefined), 1_000, "no container of giant");
  });
});
