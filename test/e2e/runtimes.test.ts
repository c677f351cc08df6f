// Each language runtime in its own image, end to end: the examples under examples/ deployed and
// invoked through the gateway, and every error format a caller can get from a handler.

import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import * as tar from "tar";
import { describe, expect, it } from "vitest";
import { configFromEnv } from "../../gateway/config.js";
import { compileGoSource } from "../../gateway/functions/go-build.js";
import { LABELS } from "../../gateway/invoker/docker-backend.js";
import { adminHeaders, deploy, deployPackage, docker, eventually, invoke, useTestHearth } from "../support/hearth.js";
import { filesOf, zip, type Files } from "../support/packages.js";

const h = useTestHearth();

async function deployed(name: string, config: object, files: Files): Promise<void> {
  const response = await deploy(h.url, name, config, files);
  expect(response.status, await response.clone().text()).toBe(201);
}

describe("Node runtime", () => {
  it("runs the callback example, with its console.log line in the function's log under the request id", async () => {
    await deployed("node-callback", { runtime: "node" }, await filesOf("examples/node/callback"));
    const first = await invoke(h.url, "node-callback", { name: "Ada" });
    expect(first).toMatchObject({ status: 200, body: { message: "Hello, Ada!", requestId: first.headers.get("x-call-id"), invocation: 1 } });
    expect((await invoke(h.url, "node-callback", { name: "Bo" })).body).toMatchObject({ message: "Hello, Bo!", invocation: 2 });
    const refused = await invoke(h.url, "node-callback", {});
    expect(refused).toMatchObject({ status: 502, body: { errorType: "ValidationError", errorMessage: "name is required" } });

    const id = first.headers.get("x-call-id")!;
    const logs = await eventually(async () => {
      const answer = await fetch(`${h.url}/invocations/${id}/logs`, { headers: adminHeaders });
      const { lines } = (await answer.json()) as { lines: Array<{ stream: string; message: string }> };
      return lines.find((line) => line.message.includes("greeting Ada"));
    }, 10_000, "the log line");
    expect(logs).toMatchObject({ stream: "stdout", message: expect.stringMatching(new RegExp(`^\\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z\\t${id}\\tINFO\\tgreeting Ada$`)) });
  });

  it("runs the async ES module example with its environment", async () => {
    await deployed("node-async", { runtime: "node", environment: { CURRENCY: "NOK" } }, await filesOf("examples/node/async"));
    const order = { items: [{ name: "tea", price: 3.5, quantity: 2 }, { name: "cake", price: 4, quantity: 1 }] };
    expect(await invoke(h.url, "node-async", order)).toMatchObject({ status: 200, body: { items: 2, subtotal: 11, tax: 2.2, total: 13.2, currency: "NOK" } });
    expect(await invoke(h.url, "node-async", {})).toMatchObject({ status: 502, body: { errorType: "TypeError" } });
  });

  it("answers a handler the module does not export with Runtime.HandlerNotFound", async () => {
    await deployed("node-nohandler", { runtime: "node", handler: "index.main" }, { "index.js": "exports.handler = async () => 1;\n" });
    const result = await invoke(h.url, "node-nohandler");
    expect(result).toMatchObject({ status: 502, body: { errorType: "Runtime.HandlerNotFound", errorMessage: expect.stringContaining("index.main") } });
    expect(result.headers.get("x-function-error")).toBe("true");
  });
});

describe("Python runtime", () => {
  it("runs examples/python/hello with Lambda's context", async () => {
    await deployed("py-hello", { runtime: "python", handler: "handler.handler" }, await filesOf("examples/python/hello"));
    const result = await invoke(h.url, "py-hello", { name: "Hearth" });
    expect(result.status).toBe(200);
    expect(result.body).toMatchObject({ greeting: "Hello, Hearth!", requestId: result.headers.get("x-call-id") });
    expect(result.body.remainingMs).toBeGreaterThan(0);
  });

  it("answers an exception with 502, X-Function-Error and {errorMessage, errorType, stackTrace}", async () => {
    await deployed("py-raise", { runtime: "python", handler: "app.handler" }, { "app.py": "def handler(event, context):\n    raise ValueError('bad value: %s' % event['v'])\n" });
    const result = await invoke(h.url, "py-raise", { v: 7 });
    expect(result.status).toBe(502);
    expect(result.headers.get("x-function-error")).toBe("true");
    expect(result.body).toMatchObject({ errorType: "ValueError", errorMessage: "bad value: 7" });
    expect(result.body.stackTrace.join("\n")).toContain("app.py");
  });

  it("reports a module that fails to import, not a silent hang", async () => {
    await deployed("py-broken", { runtime: "python", handler: "app.handler" }, { "app.py": "import no_such_library\n\ndef handler(event, context):\n    return 1\n" });
    const result = await invoke(h.url, "py-broken");
    expect(result.status).toBe(502);
    expect(result.body).toMatchObject({ errorType: "Runtime.ImportModuleError", errorMessage: expect.stringContaining("no_such_library") });
  });
});

describe("Go runtime (Yandex-style source compiled at deploy, Function Compute-style binaries)", () => {
  it("runs the struct-event, http-request and lucky examples", async () => {
    await deployed("go-struct", { runtime: "go" }, await filesOf("examples/go/struct-event"));
    expect(await invoke(h.url, "go-struct", { key: "value" })).toMatchObject({ status: 200, body: "hello, value!" });

    await deployed("go-http", { runtime: "go" }, await filesOf("examples/go/http-request"));
    const echoed = await invoke(h.url, "go-http", { message: "Hello, world", number: 24 });
    expect(echoed).toMatchObject({ status: 200, body: { statusCode: 200, body: { message: "Hello, world", number: 24 } } });

    await deployed("go-lucky", { runtime: "go" }, await filesOf("examples/go/lucky"));
    const seen = new Set<string>();
    // Either outcome has odds of 1/2 per call: 40 calls miss one with a chance of 2^-39.
    for (let call = 0; call < 40 && seen.size < 2; call += 1) {
      const result = await invoke(h.url, "go-lucky");
      if (result.status === 200) {
        expect(result.body).toBe("Lucky one!");
        seen.add("lucky");
      } else {
        expect(result.status).toBe(502);
        expect(result.text).toBe('{"errorMessage":"not so lucky","errorType":"UserCodeError"}');
        expect(result.headers.get("x-function-error")).toBe("true");
        seen.add("unlucky");
      }
    }
    expect([...seen].sort()).toEqual(["lucky", "unlucky"]);
  });

  it("accepts each of the nine handler signatures, with the Yandex context values", async () => {
    const forms = ["func", "func-error", "func-in-error", "func-out-error", "func-in-out-error", "func-ctx-error", "func-ctx-in-error", "func-ctx-out-error", "func-ctx-in-out-error"];
    for (const form of forms) await deployed(`go-${form}`, { runtime: "go", memory: 128 }, await filesOf(`examples/go/signatures/${form}`));
    const call = (form: string, event: unknown = { name: "Ann" }) => invoke(h.url, `go-${form}`, event);

    for (const form of ["func", "func-error", "func-in-error", "func-ctx-error", "func-ctx-in-error"]) {
      expect(await call(form), form).toMatchObject({ status: 200, body: null });
    }
    expect(await call("func-out-error")).toMatchObject({ status: 200, body: { received: "nothing" } });
    expect(await call("func-in-out-error")).toMatchObject({ status: 200, body: { received: { name: "Ann" } } });
    expect(await call("func-in-error", { name: "" })).toMatchObject({ status: 502, body: { errorType: "UserCodeError", errorMessage: "name is empty" } });

    const failed = await call("func-ctx-in-error", { name: "" });
    expect(failed.body).toEqual({ errorType: "UserCodeError", errorMessage: `request ${failed.headers.get("x-call-id")}: name is empty` });
    const context = await call("func-ctx-out-error");
    expect(context.body).toEqual({ requestId: context.headers.get("x-call-id"), functionName: "go-func-ctx-out-error", functionVersion: "1", memoryLimitMb: 128, hasDeadline: true });
    const both = await call("func-ctx-in-out-error");
    expect(both.body).toEqual({ requestId: both.headers.get("x-call-id"), received: { name: "Ann" } });
  });

  it("answers a panic with UserCodePanic and keeps serving; refuses a signature it cannot call with a clear error", async () => {
    await deployed("go-panic", { runtime: "go" }, {
      "index.go": 'package main\n\ntype Event struct {\n\tPanic bool `json:"panic"`\n}\n\nfunc Handler(e Event) (string, error) {\n\tif e.Panic {\n\t\tvar m map[string]int\n\t\tm["boom"] = 1\n\t}\n\treturn "calm", nil\n}\n',
    });
    const panicked = await invoke(h.url, "go-panic", { panic: true });
    expect(panicked).toMatchObject({ status: 502, body: { errorType: "UserCodePanic", errorMessage: expect.stringContaining("nil map") } });
    expect(panicked.body.stackTrace.join("\n")).toContain("main.Handler");
    expect(await invoke(h.url, "go-panic", { panic: false })).toMatchObject({ status: 200, body: "calm" });

    await deployed("go-bad-signature", { runtime: "go" }, { "index.go": "package main\n\nfunc Handler(a, b, c string) error { return nil }\n" });
    const refused = await invoke(h.url, "go-bad-signature");
    expect(refused).toMatchObject({ status: 502, body: { errorType: "Runtime.InvalidHandler", errorMessage: expect.stringContaining("func(string, string, string) error") } });
  });

  it("answers source that does not compile with 400 and the compiler's file:line message", async () => {
    const response = await deploy(h.url, "go-broken", { runtime: "go" }, { "index.go": "package main\n\nfunc Handler() error {\n\treturn undefinedThing\n}\n" });
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ errorType: "Go.CompileError", errorMessage: expect.stringMatching(/index\.go:4:\d+: undefined: undefinedThing/) });
  });

  it("runs a prebuilt binary named as the handler, and passes raw bodies as []byte both ways", async () => {
    const source = await zip({ "index.go": 'package main\n\nfunc Handler(body []byte) ([]byte, error) {\n\treturn append([]byte("got:"), body...), nil\n}\n' });
    // Built outside the deploy, as a Function Compute user builds theirs, then shipped as a binary alone.
    const built = await compileGoSource(docker, configFromEnv({}).goBuilderImage, source, "index.Handler", { labels: { [LABELS.invoker]: h.invokerId } });
    const binary = await singleFile(built);
    const response = await deployPackage(h.url, "go-binary", { runtime: "go", handler: "bootstrap" }, await zip({ bootstrap: binary }, { bootstrap: 0o100755 }));
    expect(response.status).toBe(201);

    const raw = await fetch(`${h.url}/function/go-binary?integration=raw`, { headers: adminHeaders, method: "POST", body: new Uint8Array([0xff, 0x00, 0x41]) });
    expect(raw.status).toBe(200);
    expect(Buffer.from(await raw.arrayBuffer())).toEqual(Buffer.concat([Buffer.from("got:"), Buffer.from([0xff, 0x00, 0x41])]));
  });
});

/** The one file of a tar.gz package. */
async function singleFile(pkg: Buffer): Promise<Buffer> {
  const chunks: Buffer[] = [];
  await pipeline(Readable.from([pkg]), tar.t({ onReadEntry: (entry) => entry.on("data", (chunk: Buffer) => chunks.push(chunk)) }));
  return Buffer.concat(chunks);
}
