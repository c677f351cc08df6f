// Deploys an attacker would send, against a real Hearth: each is answered with a JSON error naming
// what is wrong and the limit, the process stays up and keeps serving (health checks and warm
// invocations answer in milliseconds while a hostile package is being inspected), and the next
// honest deploy works.

import net from "node:net";
import { beforeAll, describe, expect, it } from "vitest";
import { probeHandler } from "../support/functions.js";
import { adminHeaders, deploy, deployPackage, invoke, TEST_ADMIN_TOKEN, useTestHearth } from "../support/hearth.js";
import { lyingZip, rawTarGz, tarGz, tarStart, zerosAfter } from "../support/packages.js";

const h = useTestHearth();

const handler = { "index.js": probeHandler() };
const node = { runtime: "node" };

async function errorOf(response: Response): Promise<{ status: number; errorType: string; errorMessage: string }> {
  return { status: response.status, ...((await response.json()) as { errorType: string; errorMessage: string }) };
}

function put(name: string, body: BodyInit, contentType?: string): Promise<Response> {
  return fetch(`${h.url}/system/functions/${name}`, { method: "PUT", body, headers: contentType ? { ...adminHeaders, "content-type": contentType } : adminHeaders });
}

function form(parts: Array<[string, string | Buffer, string?]>): FormData {
  const data = new FormData();
  for (const [name, value, filename] of parts) {
    if (filename === undefined) data.append(name, value as string);
    else data.append(name, new Blob([new Uint8Array(Buffer.from(value))]), filename);
  }
  return data;
}

async function expectAlive(name: string): Promise<void> {
  expect((await fetch(`${h.url}/healthz`)).status).toBe(200);
  expect((await deploy(h.url, name, node, handler)).status).toBe(201);
}

/**
 * Runs `work` while polling /healthz and invoking a warm function back to back; returns the slowest
 * answer of each (before: /healthz took 20 s during a 32 KB package's inspection).
 */
async function whileServing<T>(work: () => Promise<T>): Promise<{ result: T; slowestHealthMs: number; slowestInvokeMs: number }> {
  let done = false;
  let slowestHealthMs = 0;
  let slowestInvokeMs = 0;
  let polls = 0;
  const timed = async (call: () => Promise<number>): Promise<number> => {
    const started = performance.now();
    expect(await call()).toBe(200);
    return performance.now() - started;
  };
  // The first round starts with the work; it ends even if the work ends first.
  const poll = async (): Promise<void> => {
    while (!done || polls === 0) {
      slowestHealthMs = Math.max(slowestHealthMs, await timed(async () => (await fetch(`${h.url}/healthz`)).status));
      slowestInvokeMs = Math.max(slowestInvokeMs, await timed(async () => (await invoke(h.url, "warm")).status));
      polls += 1;
    }
  };
  const polling = poll();
  let result: T;
  try {
    result = await work();
  } finally {
    done = true;
    await polling;
  }
  return { result, slowestHealthMs, slowestInvokeMs };
}

describe("hostile deploys", () => {
  beforeAll(async () => {
    expect((await deploy(h.url, "warm", node, handler)).status).toBe(201);
    expect((await invoke(h.url, "warm")).status).toBe(200); // cold start now, warm from here on
  });

  it("answers a truncated multipart body 400 and stays up (it used to kill the process)", async () => {
    const truncated = '--b\r\nContent-Disposition: form-data; name="code"; filename="c"\r\n\r\nabc';
    const answer = await errorOf(await put("truncated", truncated, "multipart/form-data; boundary=b"));
    expect(answer).toMatchObject({ status: 400, errorType: "InvalidRequest", errorMessage: expect.stringContaining("Unexpected end of form") });
    await expectAlive("after-truncated");
  });

  it("answers an upload cut off mid-file, and serves on", async () => {
    const socket = net.connect(Number(new URL(h.url).port), "127.0.0.1");
    await new Promise((resolve) => socket.once("connect", resolve));
    socket.write(
      `PUT /system/functions/aborted HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${TEST_ADMIN_TOKEN}\r\n` + "Content-Type: multipart/form-data; boundary=b\r\nContent-Length: 1000000\r\n\r\n" +
        '--b\r\nContent-Disposition: form-data; name="code"; filename="c"\r\n\r\n' +
        "x".repeat(10_000),
    );
    await new Promise((resolve) => setTimeout(resolve, 200));
    socket.destroy();
    await expectAlive("after-aborted");
    expect((await fetch(`${h.url}/system/functions/aborted`, { headers: adminHeaders })).status).toBe(404);
  });

  it("reads the deploy form strictly, naming what is wrong", async () => {
    const config = JSON.stringify(node);
    const code = await tarGz(handler);
    const cases: Array<[Array<[string, string | Buffer, string?]>, string]> = [
      [[["config", config], ["code", code, "c.tgz"], ["extra", "1"]], 'unknown field "extra"'],
      [[["config", config], ["code", code, "c.tgz"], ["readme", "hi", "README"]], 'unknown file "readme"'],
      [[["config", config], ["code", code, "c.tgz"], ["code", code, "d.tgz"]], "a second file code"],
      [[["config", config], ["config", config], ["code", code, "c.tgz"]], "a second field config"],
      [[["config", config], ["code", "not a file"]], "code is a text field, not a file"],
      [[["config", config, "config.json"], ["code", code, "c.tgz"]], "config is a file, not a text field"],
      [[["a", "1"], ["b", "2"], ["c", "3"], ["d", "4"], ["e", "5"]], 'unknown field "a"'],
    ];
    for (const [parts, message] of cases) {
      expect(await errorOf(await put("strict", form(parts))), message).toMatchObject({ status: 400, errorType: "InvalidRequest", errorMessage: expect.stringContaining(message) });
    }
    expect((await fetch(`${h.url}/system/functions/strict`, { headers: adminHeaders })).status).toBe(404);
  });

  it("answers settings over 64 KiB 413, in a form or as a JSON body", async () => {
    const huge = { ...node, environment: { BIG: "x".repeat(900_000) } };
    const tooLarge = { status: 413, errorType: "FunctionConfigTooLarge", errorMessage: expect.stringContaining("65536 bytes") };
    expect(await errorOf(await deployPackage(h.url, "huge-form", huge, await tarGz(handler)))).toMatchObject(tooLarge);
    expect(await errorOf(await deploy(h.url, "warm", huge))).toMatchObject(tooLarge);
  });

  it("rejects settings that could never run: a large environment, a long handler, too many variables", async () => {
    const invalid = async (config: object, message: string): Promise<void> => {
      const answer = await errorOf(await deploy(h.url, "unrunnable", config, handler));
      expect(answer).toMatchObject({ status: 400, errorType: "InvalidFunctionConfig", errorMessage: expect.stringContaining(message) });
    };
    await invalid({ ...node, environment: { BIG: "x".repeat(5000) } }, "environment: names and values total 5003 bytes; the limit is 4096");
    await invalid({ ...node, environment: Object.fromEntries(Array.from({ length: 101 }, (_, i) => [`V${i}`, ""])) }, "at most 100 environment variables");
    await invalid({ ...node, handler: `${"a".repeat(200)}.handler` }, "handler");
    await invalid({ ...node, environment: { NUL: "a\u0000b" } }, "NUL");
    // Within the limits, it deploys.
    const env = { ...node, environment: { ALMOST: "y".repeat(4000) } };
    expect((await deploy(h.url, "env-fits", env, handler)).status).toBe(201);
  });

  it("rejects packages with links out of the package, a zip whose headers lie, and too many entries", async () => {
    const index = { path: "index.js", data: probeHandler() };
    const invalid = async (code: Buffer, message: string): Promise<void> => {
      const answer = await errorOf(await deployPackage(h.url, "bad-package", node, code));
      expect(answer).toMatchObject({ status: 400, errorType: "InvalidCodePackage", errorMessage: expect.stringContaining(message) });
    };
    await invalid(rawTarGz([index, { path: "passwd", type: "SymbolicLink", linkpath: "/etc/passwd" }]), "symbolic link passwd points outside the package");
    await invalid(rawTarGz([index, { path: "lib/up", type: "SymbolicLink", linkpath: "../../x" }]), "symbolic link lib/up points outside the package");
    await invalid(rawTarGz([index, { path: "shadow", type: "Link", linkpath: "/etc/shadow" }]), "hard link shadow points outside the package");
    await invalid(rawTarGz([index, { path: "up", type: "Link", linkpath: "../x" }]), "hard link up points outside the package");
    await invalid(await lyingZip({ "index.js": index.data, "data.bin": Buffer.alloc(200_000, 7) }, "data.bin", 100), "entry data.bin is damaged");
    const many = rawTarGz([index, ...Array.from({ length: 100_000 }, (_, i) => ({ path: `empty/${i}` }))]);
    await invalid(many, "more than 10000 entries (the limit)");
    expect((await fetch(`${h.url}/system/functions/bad-package`, { headers: adminHeaders })).status).toBe(404);
  });

  it.each([
    ["32 KB", 32],
    ["1 MB", 1024],
    ["4 MB", 4096],
  ])("rejects a %s gzip of a tar end and zeros while /healthz and warm invocations answer at once", async (_size, mebibytes) => {
    const bomb = zerosAfter(Buffer.alloc(1024), mebibytes);
    const { result, slowestHealthMs, slowestInvokeMs } = await whileServing(async () => errorOf(await deployPackage(h.url, "bomb", node, bomb)));
    // An archive with nothing before its end; the zeros after it are never inflated.
    expect(result).toMatchObject({ status: 400, errorType: "InvalidCodePackage", errorMessage: expect.stringContaining("Unrecognized archive format") });
    expect(slowestHealthMs).toBeLessThan(500);
    expect(slowestInvokeMs).toBeLessThan(500);
  });

  it("stops a 4 MB bomb inside an entry at the unpacked-size limit, serving meanwhile", async () => {
    const bomb = zerosAfter(tarStart([{ path: "index.js", size: 4 * 1024 ** 3 }]), 4096);
    const { result, slowestHealthMs, slowestInvokeMs } = await whileServing(async () => errorOf(await deployPackage(h.url, "entry-bomb", node, bomb)));
    expect(result).toMatchObject({ status: 400, errorType: "InvalidCodePackage", errorMessage: expect.stringContaining("more than 250 MiB (the limit)") });
    expect(slowestHealthMs).toBeLessThan(500);
    expect(slowestInvokeMs).toBeLessThan(500);
    await expectAlive("after-bombs");
  });
});
