// Deploy-time Go compiles in the real builder image (hearth/builder-go, made by scripts/setup.sh) on the
// real Docker engine: the examples compile and behave as their README lines say when the binary runs on
// the host against a fake runtime API; bad sources give clear errors; no build container stays behind.
// The SDK's own go tests run here too, inside the builder image, since CI hosts have no Go.

import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import Docker from "dockerode";
import * as tar from "tar";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { HearthError } from "../../gateway/errors.js";
import { extractPackage } from "../../gateway/functions/code-package.js";
import { compileGoSource, type GoBuildOptions } from "../../gateway/functions/go-build.js";
import { LABELS } from "../../gateway/invoker/docker-backend.js";
import { startFakeFcApi, type FakeFcApi } from "../support/fake-fc-api.js";
import { eventually } from "../support/hearth.js";
import { tarGz, zip } from "../support/packages.js";

const BUILDER = "hearth/builder-go:latest";
const docker = new Docker();
/** Marks this run's build containers, to check that none is left. */
const runLabel = { "io.hearth.test-run": randomBytes(4).toString("hex") };
const cleanups: Array<() => Promise<void> | void> = [];

beforeAll(async () => {
  await docker
    .getImage(BUILDER)
    .inspect()
    .catch(() => {
      throw new Error(`${BUILDER} is missing: scripts/setup.sh builds it`);
    });
});

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  const left = await docker.listContainers({ all: true, filters: { label: [`io.hearth.test-run=${runLabel["io.hearth.test-run"]}`] } });
  expect(left, "build containers left behind").toEqual([]);
});

function compile(files: Record<string, string>, handler = "index.Handler", options: Omit<GoBuildOptions, "labels"> = {}, image = BUILDER): Promise<Buffer> {
  return tarGz(files).then((source) => compileGoSource(docker, image, source, handler, { ...options, labels: runLabel }));
}

async function example(dir: string): Promise<Record<string, string>> {
  return { "index.go": await readFile(path.join("examples/go", dir, "index.go"), "utf8") };
}

async function hearthError(promise: Promise<unknown>): Promise<HearthError> {
  const error = await promise.then(
    () => undefined,
    (error: unknown) => error,
  );
  expect(error).toBeInstanceOf(HearthError);
  return error as HearthError;
}

interface RunningFunction {
  binary: string;
  api: FakeFcApi;
  child: ChildProcess;
  output(): string;
  exitCode: Promise<number | null>;
}

/** Unpacks a compiled package as the adapter does and runs its binary against a fake runtime API. */
async function run(pkg: Buffer, handler = "index.Handler"): Promise<RunningFunction> {
  const dir = await mkdtemp(path.join(os.tmpdir(), "hearth-go-run-"));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  await extractPackage(pkg, dir);
  const api = await startFakeFcApi();
  cleanups.push(() => api.close());
  const binary = path.join(dir, handler);
  const child = spawn(binary, [], {
    env: {
      FC_RUNTIME_API: api.address,
      AWS_LAMBDA_FUNCTION_NAME: "example",
      AWS_LAMBDA_FUNCTION_VERSION: "3",
      AWS_LAMBDA_FUNCTION_MEMORY_SIZE: "256",
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  cleanups.push(() => void child.kill("SIGKILL"));
  let output = "";
  child.stdout!.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on("data", (chunk: Buffer) => (output += chunk.toString()));
  const exitCode = new Promise<number | null>((resolve) => child.once("exit", resolve));
  return { binary, api, child, output: () => output, exitCode };
}

function logged(fn: RunningFunction, text: string): Promise<true> {
  return eventually(async () => fn.output().includes(text) || undefined, 5_000, `"${text}" in the function's output`);
}

async function listPackage(pkg: Buffer): Promise<Array<{ path: string; type: string; mode: number | undefined }>> {
  const entries: Array<{ path: string; type: string; mode: number | undefined }> = [];
  await pipeline(Readable.from([pkg]), tar.t({ onReadEntry: (entry) => entries.push({ path: entry.path, type: entry.type, mode: entry.mode }) }));
  return entries;
}

describe("compileGoSource", () => {
  it("compiles a Yandex-style source in seconds into one executable named like the handler, which serves requests", async () => {
    const started = Date.now();
    const pkg = await compile(await example("struct-event"));
    expect(Date.now() - started).toBeLessThan(30_000);

    expect(await listPackage(pkg)).toEqual([{ path: "index.Handler", type: "File", mode: 0o755 }]);
    const fn = await run(pkg);
    expect(await fn.api.invoke('{"key":"value"}')).toMatchObject({ kind: "response", contentType: "application/json", body: '"hello, value!"' });
    expect(await fn.api.invoke('{"key":"again"}')).toMatchObject({ kind: "response", body: '"hello, again!"' });
    expect(await fn.api.invoke('{"key": 5}')).toMatchObject({ kind: "error", body: expect.stringContaining('"errorType":"Runtime.UnmarshalError"') });
    expect((await readFile(fn.binary)).subarray(0, 4).toString("latin1")).toBe("\x7fELF");
  });

  it("accepts zip sources with the user's own go.mod, and makes the same package from the same source", async () => {
    const files = { ...(await example("struct-event")), "go.mod": "module example.com/greeter\n\ngo 1.19\n" };
    const fromZip = await compileGoSource(docker, BUILDER, await zip(files), "index.Handler", { labels: runLabel });
    expect(fromZip.equals(await compile(files))).toBe(true);
    expect(await (await run(fromZip)).api.invoke('{"key":"zip"}')).toMatchObject({ body: '"hello, zip!"' });
  });

  it("reports a syntax error as 400 Go.CompileError with the file and line", async () => {
    const source = ["package main", "", "func Handler() (string, error) {", '\treturn "oops" nil', "}", ""].join("\n");
    const error = await hearthError(compile({ "index.go": source }));
    expect(error.status).toBe(400);
    expect(error.errorType).toBe("Go.CompileError");
    expect(error.message).toMatch(/^index\.go:4:\d+: syntax error/);
  });

  it("reports type errors in any file of the package the same way", async () => {
    const error = await hearthError(
      compile({ "index.go": "package main\n\nfunc Handler() (string, error) { return greeting(), nil }\n", "greeting.go": "package main\n\nfunc greeting() string { return 42 }\n" }),
    );
    expect(error).toMatchObject({ status: 400, errorType: "Go.CompileError" });
    expect(error.message).toMatch(/^greeting\.go:3:\d+: cannot use 42/);
  });

  it("rejects a missing entry file, a missing handler function and a main of the user's before compiling", async () => {
    const missingFile = await hearthError(compile({ "index.go": "package main\n\nfunc Handler() {}\n" }, "main.Handler"));
    expect(missingFile).toMatchObject({ status: 400, errorType: "Go.HandlerNotFound", message: "handler main.Handler needs main.go at the package root; the package holds index.go" });

    const missingFunction = await hearthError(compile({ "index.go": "package main\n\nfunc Other() {}\n" }));
    expect(missingFunction).toMatchObject({ status: 400, errorType: "Go.HandlerNotFound", message: "handler index.Handler: index.go does not declare func Handler" });

    const ownMain = await hearthError(compile({ "index.go": "package main\n\nfunc Handler() {}\n", "main.go": "package main\n\nfunc main() {}\n" }));
    expect(ownMain).toMatchObject({ status: 400, errorType: "Go.InvalidSource" });
    expect(ownMain.message).toContain("main.go declares func main");

    const notMain = await hearthError(compile({ "index.go": "package handler\n\nfunc Handler() {}\n" }));
    expect(notMain).toMatchObject({ status: 400, errorType: "Go.InvalidSource" });

    const badHandler = await hearthError(compile({ "index.go": "package main\n" }, "index"));
    expect(badHandler).toMatchObject({ status: 400, errorType: "Go.InvalidHandler" });
  });

  it("compiles an unsupported handler signature, whose binary then reports it as an init error", async () => {
    const fn = await run(await compile({ "index.go": "package main\n\nfunc Handler(a, b, c string) error { return nil }\n" }));
    const initError = JSON.parse(await fn.api.initError);
    expect(initError.errorType).toBe("Runtime.InvalidHandler");
    expect(initError.errorMessage).toContain("handler signature func(string, string, string) error is not supported: it takes 3 arguments (at most 2)");
    expect(await fn.exitCode).toBe(1);
    expect(fn.output()).toContain("func(string, string, string) error is not supported");
  });

  it("answers 503 when the builder image is missing", async () => {
    const error = await hearthError(compile(await example("struct-event"), "index.Handler", {}, "hearth/builder-go:no-such-tag"));
    expect(error).toMatchObject({ status: 503, errorType: "Go.BuilderUnavailable" });
    expect(error.message).toContain("hearth/builder-go:no-such-tag");
  });

  it("says so when the compiler runs out of memory", async () => {
    const error = await hearthError(compile(await example("struct-event"), "index.Handler", { memoryMb: 20 }));
    expect(error).toMatchObject({ status: 400, errorType: "Go.CompileError", message: "the Go compiler ran out of memory (20 MiB)" });
  });

  it("answers 504 for a compile past its time limit, and removes its container", async () => {
    const error = await hearthError(compile(await example("struct-event"), "index.Handler", { timeoutMs: 50 }));
    expect(error).toMatchObject({ status: 504, errorType: "Go.CompileTimeout" });
  });
});

describe("the Go examples, compiled and run", () => {
  const cases: Array<[string, (fn: RunningFunction) => Promise<void>]> = [
    [
      "http-request",
      async (fn) => {
        const answer = await fn.api.invoke('{"message":"Hello, world","number":24}');
        expect(JSON.parse(answer.body)).toEqual({ statusCode: 200, body: { message: "Hello, world", number: 24 } });
      },
    ],
    [
      "lucky",
      async (fn) => {
        const outcomes = new Set<string>();
        for (let i = 0; i < 30; i++) outcomes.add(JSON.stringify(await fn.api.invoke("{}").then(({ kind, body }) => ({ kind, body }))));
        expect([...outcomes].sort()).toEqual(
          [
            JSON.stringify({ kind: "error", body: '{"errorMessage":"not so lucky","errorType":"UserCodeError"}' }),
            JSON.stringify({ kind: "response", body: '"Lucky one!"' }),
          ].sort(),
        );
      },
    ],
    [
      "signatures/func",
      async (fn) => {
        expect(await fn.api.invoke("{}")).toMatchObject({ kind: "response", body: "null" });
        await logged(fn, "func() called");
      },
    ],
    [
      "signatures/func-error",
      async (fn) => {
        expect(await fn.api.invoke("{}")).toMatchObject({ kind: "response", body: "null" });
        await logged(fn, "func() error called");
      },
    ],
    [
      "signatures/func-in-error",
      async (fn) => {
        expect(await fn.api.invoke('{"name":"Ann"}')).toMatchObject({ kind: "response", body: "null" });
        await logged(fn, "hello, Ann");
        expect(await fn.api.invoke('{"name":""}')).toMatchObject({ kind: "error", body: '{"errorMessage":"name is empty","errorType":"UserCodeError"}' });
      },
    ],
    [
      "signatures/func-out-error",
      async (fn) => expect(await fn.api.invoke("{}")).toMatchObject({ kind: "response", body: '{"received":"nothing"}' }),
    ],
    [
      "signatures/func-in-out-error",
      async (fn) => expect(await fn.api.invoke('{"name":"Ann"}')).toMatchObject({ kind: "response", body: '{"received":{"name":"Ann"}}' }),
    ],
    [
      "signatures/func-ctx-error",
      async (fn) => {
        const answer = await fn.api.invoke("{}");
        expect(answer).toMatchObject({ kind: "response", body: "null" });
        await logged(fn, `request ${answer.requestId}, 1m0s left`);
      },
    ],
    [
      "signatures/func-ctx-in-error",
      async (fn) => {
        const greeted = await fn.api.invoke('{"name":"Ann"}');
        await logged(fn, `request ${greeted.requestId}: hello, Ann`);
        const failed = await fn.api.invoke('{"name":""}');
        expect(JSON.parse(failed.body)).toEqual({ errorMessage: `request ${failed.requestId}: name is empty`, errorType: "UserCodeError" });
      },
    ],
    [
      "signatures/func-ctx-out-error",
      async (fn) => {
        const answer = await fn.api.invoke("{}");
        expect(JSON.parse(answer.body)).toEqual({ requestId: answer.requestId, functionName: "example", functionVersion: "3", memoryLimitMb: 256, hasDeadline: true });
      },
    ],
    [
      "signatures/func-ctx-in-out-error",
      async (fn) => {
        const answer = await fn.api.invoke('{"name":"Ann"}');
        expect(JSON.parse(answer.body)).toEqual({ requestId: answer.requestId, received: { name: "Ann" } });
      },
    ],
  ];

  it.each(cases)("%s", async (dir, check) => {
    await check(await run(await compile(await example(dir))));
  });
});

describe("the Go runtime image", () => {
  const RUNTIME = "hearth/runtime-go:latest";

  /** A container of the runtime image that runs only its bootstrap, with the package in /var/task. */
  async function startBootstrap(pkg: Buffer | undefined, env: string[]): Promise<{ exitCode: Promise<number>; logs(): Promise<string> }> {
    const container = await docker.createContainer({
      Image: RUNTIME,
      Entrypoint: ["/opt/hearth/runtime/bootstrap"],
      Env: ["_HANDLER=index.Handler", "LAMBDA_TASK_ROOT=/var/task", ...env],
      Labels: runLabel,
      HostConfig: { NetworkMode: "host" },
    });
    cleanups.push(() => container.remove({ force: true }));
    if (pkg) await container.putArchive(pkg, { path: "/var/task" });
    await container.start();
    return {
      exitCode: container.wait().then((exit: { StatusCode: number }) => exit.StatusCode),
      logs: async () => ((await container.logs({ stdout: true, stderr: true, follow: false })) as Buffer).toString("utf8"),
    };
  }

  it("runs the binary named like the handler, which serves the runtime API", async () => {
    const api = await startFakeFcApi();
    cleanups.push(() => api.close());
    await startBootstrap(await compile(await example("struct-event")), [`FC_RUNTIME_API=${api.address}`]);
    expect(await api.invoke('{"key":"container"}')).toMatchObject({ kind: "response", body: '"hello, container!"' });
  });

  it("says which file is missing when the package has no such binary", async () => {
    const bootstrap = await startBootstrap(undefined, []);
    expect(await bootstrap.exitCode).toBe(127);
    expect(await bootstrap.logs()).toContain("no file /var/task/index.Handler: the package of a Go function holds its compiled binary, named like the handler (index.Handler)");
  });
});

describe("the Go SDK", () => {
  it("passes its go tests inside the builder image, without network", async () => {
    const sdk = await tarGzDirectory("images/go/sdk");
    const container = await docker.createContainer({
      Image: BUILDER,
      // -trimpath, as go-build compiles: the standard library comes from the image's build cache.
      Cmd: ["go", "test", "-trimpath", "-count=1", "./..."],
      WorkingDir: "/build/src",
      User: "10001:10001",
      Labels: { ...runLabel, [LABELS.build]: "go" },
      HostConfig: { NetworkMode: "none", Memory: 1024 * 1024 * 1024 },
    });
    cleanups.push(() => container.remove({ force: true }));
    await container.putArchive(sdk, { path: "/build/src" });
    await container.start();
    const { StatusCode } = (await container.wait()) as { StatusCode: number };
    const output = ((await container.logs({ stdout: true, stderr: true, follow: false })) as Buffer).toString("utf8");
    expect(output).toMatch(/ok\s+hearth\.dev\/hearth/);
    expect(StatusCode).toBe(0);
  });
});

async function tarGzDirectory(dir: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of tar.c({ gzip: true, cwd: dir, portable: true }, ["."])) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}
