// Function logs and invocation history end to end on a real redis-server and Docker: a handler's lines
// of both streams in order with the request id and START/END/REPORT, read back by invocation id (sync
// and async) and followed live; timeouts; an init failure's cause after its container is gone; a flood
// cut per invocation while the function's log stays bounded; the history; PATCH.

import { randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import { finalRecord, invokeAsync, request } from "../support/async.js";
import { adminHeaders, deploy, docker, eventually, invoke, listContainers, useTestHearth } from "../support/hearth.js";

const MAX_LINES = 100;
const PER_INVOCATION = 30;
const h = useTestHearth({ logs: { maxLines: MAX_LINES, retentionMs: 3_600_000, maxLinesPerInvocation: PER_INVOCATION, maxLineLength: 1_000, historySize: 100 } });

// The streams are two pipes, read as their lines arrive: lines written to both within the same
// instant keep their order within each stream only; a moment apart, their order across the two.
const talker = `
const moment = () => new Promise((resolve) => setTimeout(resolve, 20));
exports.handler = async (event) => {
  console.log("first out");
  await moment();
  console.error("then err");
  await moment();
  process.stdout.write("raw stdout\\n");
  console.log("last out");
  if (event.marker) console.log(event.marker);
  if (event.sleep) await new Promise((resolve) => setTimeout(resolve, event.sleep));
  for (let i = 0; i < (event.flood ?? 0); i++) console.log("flood " + i);
  return { ok: true };
};`;

interface Line {
  time: string;
  invocation: string | null;
  stream: "stdout" | "stderr" | "platform";
  message: string;
}

const ID = /^talker\.[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

async function invocationLogs(id: string): Promise<Line[]> {
  // The lines go out in the same write as the outcome, after it: the reply may be a moment ahead.
  return eventually(async () => {
    const answer = await request(h.url, "GET", `/invocations/${id}/logs`);
    const lines = answer.body.lines as Line[] | undefined;
    return lines?.some((line) => line.message.startsWith("REPORT")) ? lines : undefined;
  }, 10_000, `the logs of ${id}`);
}

function written(lines: Line[]): string[] {
  return lines.filter((line) => line.stream !== "platform").map((line) => `${line.stream} ${line.message.split("\t").slice(2).join(" ") || line.message}`);
}

describe("function logs", () => {
  let coldId = "";

  it("keeps both streams in order with the request id, between START and END/REPORT", async () => {
    expect((await deploy(h.url, "talker", { runtime: "node", timeout: 1, memory: 128, environment: { KEEP: "me" } }, { "index.js": talker })).status).toBe(201);
    const first = await invoke(h.url, "talker");
    expect(first.status).toBe(200);
    coldId = first.headers.get("x-call-id")!;
    expect(coldId).toMatch(ID);

    const lines = await invocationLogs(coldId);
    expect(lines.every((line) => line.invocation === coldId)).toBe(true);
    expect(lines[0]).toMatchObject({ stream: "platform", message: `START RequestId: ${coldId} Version: 1` });
    expect(written(lines)).toEqual(["stdout INFO first out", "stderr ERROR then err", "stdout raw stdout", "stdout INFO last out"]);
    // Node's runtime writes the request id in its own lines.
    expect(lines.find((line) => line.message.endsWith("first out"))!.message).toContain(`\t${coldId}\tINFO\t`);
    const [end, report] = lines.slice(-2);
    expect(end).toMatchObject({ stream: "platform", message: `END RequestId: ${coldId}` });
    expect(report!.message).toMatch(new RegExp(`^REPORT RequestId: ${coldId.replace(".", "\\.")}\\tDuration: \\d+\\.\\d\\d ms\\tBilled Duration: \\d+ ms\\tMemory Size: 128 MB\\tMax Memory Used: [1-9]\\d* MB\\tInit Duration: \\d+\\.\\d\\d ms$`));
    expect(Date.parse(lines[0]!.time)).toBeLessThanOrEqual(Date.parse(report!.time));

    // A warm invocation reports no init.
    const warm = await invoke(h.url, "talker");
    const warmReport = (await invocationLogs(warm.headers.get("x-call-id")!)).at(-1)!;
    expect(warmReport.message).toMatch(/^REPORT .*Max Memory Used: \d+ MB$/);
  });

  it("keeps a Python function's lines of both streams and its logging lines with the request id", async () => {
    const handler = ["import logging, sys, time", "def handler(event, context):", "    print('py out')", "    time.sleep(0.02)", "    print('py err', file=sys.stderr)", "    time.sleep(0.02)", "    logging.getLogger().warning('py warn')", "    return 1", ""].join("\n");
    await deploy(h.url, "snake", { runtime: "python" }, { "index.py": handler });
    const call = await invoke(h.url, "snake");
    expect(call.status).toBe(200);
    const id = call.headers.get("x-call-id")!;
    const lines = await invocationLogs(id);
    expect(lines.filter((line) => line.stream !== "platform").map((line) => [line.stream, line.message])).toEqual([
      ["stdout", "py out"],
      ["stderr", "py err"],
      ["stdout", expect.stringMatching(new RegExp(`^\\[WARNING\\]\\t\\S+Z\\t${id.replace(".", "\\.")}\\tpy warn$`))],
    ]);
  });

  it("reads an async invocation's lines by its id", async () => {
    const accepted = await invokeAsync(h.url, "talker", { marker: "async marker" });
    const id = accepted.body.id as string;
    expect((await finalRecord(h.url, id)).status).toBe("succeeded");
    const lines = await invocationLogs(id);
    expect(lines[0]!.message).toBe(`START RequestId: ${id} Version: 1`);
    expect(written(lines)).toContain("stdout INFO async marker");
  });

  it("lists sync and async invocations, newest first, cold or warm", async () => {
    const answer = await request(h.url, "GET", "/system/functions/talker/invocations");
    expect(answer.status).toBe(200);
    const history = answer.body.invocations as Array<Record<string, unknown>>;
    expect(history.map((entry) => [entry.type, entry.status, entry.statusCode, entry.cold])).toEqual([
      ["async", "succeeded", 200, false],
      ["sync", "succeeded", 200, false],
      ["sync", "succeeded", 200, true],
    ]);
    expect(history[2]!.id).toBe(coldId);
    expect(Date.parse(history[2]!.startedAt as string)).toBeLessThanOrEqual(Date.parse(history[2]!.finishedAt as string));
    expect(history[2]!.durationMs).toBeGreaterThan(0);
    expect((await request(h.url, "GET", "/system/functions/talker/invocations?limit=1")).body.invocations).toHaveLength(1);
    expect((await request(h.url, "GET", "/system/functions/talker/invocations?limit=0")).status).toBe(400);
  });

  it("follows the function's log: a line written after the client connected arrives", async () => {
    const abort = new AbortController();
    const response = await fetch(`${h.url}/system/functions/talker/logs?follow=true&limit=5`, { headers: adminHeaders, signal: abort.signal });
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toContain("application/x-ndjson");
    const marker = `live ${randomUUID()}`;
    const received: Line[] = [];
    const reader = response.body!.getReader();
    const decoder = new TextDecoder();
    let text = "";
    const reading = (async () => {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        text += decoder.decode(value, { stream: true });
        const lines = text.split("\n");
        text = lines.pop()!;
        received.push(...lines.map((line) => JSON.parse(line) as Line));
        if (received.some((line) => line.message.endsWith(marker))) return;
      }
    })();
    // The backlog first (the last 5 lines), then the new invocation's.
    await eventually(async () => (received.length >= 5 ? true : undefined), 10_000, "the backlog");
    const call = await invoke(h.url, "talker", { marker });
    await Promise.race([reading, new Promise((_, reject) => setTimeout(() => reject(new Error("no live line")), 15_000))]);
    abort.abort();
    const live = received.find((line) => line.message.endsWith(marker))!;
    expect(live).toMatchObject({ stream: "stdout", invocation: call.headers.get("x-call-id") });
    expect(received.slice(0, 5).every((line) => !line.message.endsWith(marker))).toBe(true);
  });

  it("writes a line when a timeout ends an invocation", async () => {
    const call = await invoke(h.url, "talker", { sleep: 5000 });
    expect(call.status).toBe(504);
    const id = call.headers.get("x-call-id")!;
    const lines = await invocationLogs(id);
    expect(lines.map((line) => line.message)).toContain(`RequestId: ${id} Error: Task timed out after 1.00 seconds`);
    expect(written(lines)).toContain("stdout INFO first out");
    const history = (await request(h.url, "GET", "/system/functions/talker/invocations?limit=1")).body.invocations;
    expect(history[0]).toMatchObject({ id, status: "timeout", statusCode: 504 });
  });

  it("writes a line when the container dies outright while it runs a request", async () => {
    await deploy(h.url, "doomed", { runtime: "node", timeout: 30 }, { "index.js": talker });
    expect((await invoke(h.url, "doomed")).status).toBe(200);
    const [container] = await listContainers(h.invokerId, "doomed");
    const call = invoke(h.url, "doomed", { sleep: 20_000 });
    // Its START line goes out within half a second of the request's start.
    await eventually(async () => ((await h.client.xlen("hearth:{doomed}:logs")) > 8 ? true : undefined), 10_000, "the request's first lines");
    await docker.getContainer(container!.Id).kill();
    const answer = await call;
    expect(answer.status).toBe(502);
    const id = answer.headers.get("x-call-id")!;
    const lines = await eventually(async () => {
      const { body } = await request(h.url, "GET", `/invocations/${id}/logs`);
      return body.lines?.some((line: Line) => line.message.startsWith(`RequestId: ${id} Error: `)) ? (body.lines as Line[]) : undefined;
    }, 10_000, "the container's loss in the log");
    expect(lines[0]!.message).toBe(`START RequestId: ${id} Version: 1`);
    expect(lines.at(-1)).toMatchObject({ stream: "platform", invocation: id, message: expect.stringMatching(/container .* while it ran the request$/) });
  });

  it("cuts a flood of output per invocation with a marker, and keeps the function's log bounded", async () => {
    let id = "";
    for (let round = 0; round < 3; round += 1) {
      const call = await invoke(h.url, "talker", { flood: 500 });
      expect(call.status).toBe(200);
      id = call.headers.get("x-call-id")!;
    }
    const lines = await invocationLogs(id);
    expect(written(lines)).toHaveLength(PER_INVOCATION);
    expect(lines.filter((line) => line.stream === "platform" && line.message.includes(`more than ${PER_INVOCATION} lines`))).toHaveLength(1);
    expect(lines.at(-1)!.message).toMatch(/^REPORT /);
    expect(await h.client.xlen("hearth:{talker}:logs")).toBeLessThanOrEqual(MAX_LINES);
    const all = await request(h.url, "GET", "/system/functions/talker/logs?limit=1000");
    expect(all.body.lines.length).toBeLessThanOrEqual(MAX_LINES);
    expect(all.body.lines.at(-1).message).toMatch(/^REPORT /);
  });

  it("filters by time and invocation, and answers 404 for what does not exist", async () => {
    const now = Date.now();
    const call = await invoke(h.url, "talker", { marker: "after now" });
    const id = call.headers.get("x-call-id")!;
    await invocationLogs(id);
    const since = await request(h.url, "GET", `/system/functions/talker/logs?since=${new Date(now).toISOString()}&limit=1000`);
    expect(since.body.lines.filter((line: Line) => Date.parse(line.time) < now)).toEqual([]);
    expect(since.body.lines.filter((line: Line) => line.invocation === id)).toHaveLength(written((await invocationLogs(id))).length + 3);
    const one = await request(h.url, "GET", `/system/functions/talker/logs?invocation=${id}&limit=2`);
    expect(one.body.lines.map((line: Line) => line.message)).toEqual([`END RequestId: ${id}`, expect.stringMatching(/^REPORT /)]);
    expect((await request(h.url, "GET", "/system/functions/talker/logs?since=yesterday")).status).toBe(400);
    expect((await request(h.url, "GET", "/system/functions/nope/logs")).body.errorType).toBe("FunctionNotFound");
    expect((await request(h.url, "GET", "/invocations/bogus/logs")).status).toBe(404);
    const unknown = await request(h.url, "GET", `/invocations/talker.${randomUUID()}/logs`);
    expect(unknown).toMatchObject({ status: 404, body: { errorType: "InvocationNotFound" } });
  });

  it("keeps the cause of an init failure, in its answer and after the container is gone", async () => {
    await deploy(h.url, "broken", { runtime: "node", environment: { NODE_OPTIONS: "--bogus-flag" } }, { "index.js": "exports.handler = async () => 1;" });
    const call = await invoke(h.url, "broken");
    expect(call.status).toBe(502);
    expect(call.body.errorMessage).toMatch(/exit status 9/);
    expect(call.body.logs.join("\n")).toContain("--bogus-flag is not allowed in NODE_OPTIONS");
    const id = call.headers.get("x-call-id")!;

    await eventually(async () => ((await listContainers(h.invokerId, "broken")).length === 0 ? true : undefined), 20_000, "the container to go");
    const lines = (await request(h.url, "GET", "/system/functions/broken/logs?limit=1000")).body.lines as Line[];
    expect(lines.find((line) => line.message.includes("--bogus-flag is not allowed in NODE_OPTIONS"))).toMatchObject({ stream: "stderr", invocation: null });
    expect((await invocationLogs(id)).map((line) => line.message)).toContain(`RequestId: ${id} Error: ${call.body.errorMessage}`);
  });

  it("PATCH changes the settings it names and keeps the others", async () => {
    const patched = await fetch(`${h.url}/system/functions/talker`, { method: "PATCH", headers: { ...adminHeaders, "content-type": "application/json" }, body: JSON.stringify({ memory: 192 }) });
    expect(patched.status).toBe(200);
    const body = await patched.json();
    expect(body).toMatchObject({ memory: 192, timeout: 1, environment: ["KEEP"], runtime: "node", version: 2 });
    // As GET shows it.
    expect(Object.keys(body).sort()).toEqual(Object.keys((await request(h.url, "GET", "/system/functions/talker")).body).sort());
    expect((await invoke(h.url, "talker")).status).toBe(200);

    const invalid = await fetch(`${h.url}/system/functions/talker`, { method: "PATCH", headers: { ...adminHeaders, "content-type": "application/json" }, body: JSON.stringify({ memory: "lots" }) });
    expect(invalid.status).toBe(400);
    const unknown = await fetch(`${h.url}/system/functions/nope`, { method: "PATCH", headers: { ...adminHeaders, "content-type": "application/json" }, body: "{}" });
    expect(unknown.status).toBe(404);
  });

  it("deletes the logs and history with the function", async () => {
    expect((await request(h.url, "DELETE", "/system/functions/talker")).status).toBe(204);
    expect(await h.client.exists("hearth:{talker}:logs", "hearth:{talker}:history")).toBe(0);
  });
});
