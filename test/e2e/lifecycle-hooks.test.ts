// Function Compute's lifecycle hooks in real containers: the initializer once per container before its
// first invocation (its failures and its timeout keep the container from serving), preStop before a
// container retires.

import { describe, expect, it } from "vitest";
import { adminHeaders, deploy, eventually, invoke, listContainers, useTestHearth } from "../support/hearth.js";
import type { Files } from "../support/packages.js";

const h = useTestHearth();

async function deployed(name: string, config: object, files: Files): Promise<void> {
  const response = await deploy(h.url, name, config, files);
  expect(response.status, await response.clone().text()).toBeLessThan(300);
}

async function logMessages(fn: string): Promise<string[]> {
  const answer = await fetch(`${h.url}/system/functions/${fn}/logs?limit=1000`, { headers: adminHeaders });
  const { lines } = (await answer.json()) as { lines: Array<{ message: string }> };
  return lines.map((line) => line.message);
}

const NODE_HOOKS = `
const fs = require("node:fs");
exports.initializer = (context, callback) => {
  console.log("initializer ran as " + context.awsRequestId);
  fs.appendFileSync("/tmp/initialized", "x");
  callback(null);
};
exports.handler = async () => ({ initializations: fs.readFileSync("/tmp/initialized", "utf8").length, pid: process.pid });
exports.preStop = async () => { console.log("preStop ran"); };
`;

describe("lifecycle hooks", () => {
  it("runs a Node initializer once per container, before its first invocation", async () => {
    await deployed("node-init", { runtime: "node", initializer: "index.initializer", initializationTimeout: 5 }, { "index.js": NODE_HOOKS });
    const first = await invoke(h.url, "node-init");
    const second = await invoke(h.url, "node-init");
    expect(first).toMatchObject({ status: 200, body: { initializations: 1 } });
    expect(second).toMatchObject({ status: 200, body: { initializations: 1, pid: first.body.pid } });
    const messages = await eventually(async () => {
      const found = await logMessages("node-init");
      return found.some((message) => message.includes("initializer ran")) ? found : undefined;
    }, 10_000, "the initializer's log line");
    expect(messages.filter((message) => message.includes("initializer ran"))).toHaveLength(1);
    // The initializer is part of the init the first invocation waited for.
    expect(messages.find((message) => message.startsWith(`REPORT RequestId: ${first.headers.get("x-call-id")}`))).toContain("Init Duration");
  });

  it("runs a Python initializer (def initializer(context)) once", async () => {
    await deployed("py-init", { runtime: "python", handler: "app.handler", initializer: "app.initializer" }, {
      "app.py": "import os\n\ndef initializer(context):\n    print('initializer ran as', context.aws_request_id)\n    open('/tmp/initialized', 'a').write('x')\n\ndef handler(event, context):\n    return {'initializations': len(open('/tmp/initialized').read())}\n",
    });
    expect(await invoke(h.url, "py-init")).toMatchObject({ status: 200, body: { initializations: 1 } });
    expect(await invoke(h.url, "py-init")).toMatchObject({ status: 200, body: { initializations: 1 } });
  });

  it("answers Function.InitializerError when the initializer fails, and the container serves nothing", async () => {
    await deployed("node-init-fails", { runtime: "node", initializer: "index.initializer" }, {
      "index.js": 'exports.initializer = async () => { console.log("connecting"); throw new Error("db down"); };\nexports.handler = async () => "served";',
    });
    const result = await invoke(h.url, "node-init-fails");
    expect(result.status).toBe(502);
    expect(result.body).toMatchObject({ errorType: "Function.InitializerError", errorMessage: "the initializer index.initializer failed: Error: db down" });
    expect(result.body.logs.join("\n")).toContain("connecting");
    expect(result.headers.get("x-fc-error-type")).toBe("Function.InitializerError");
    await eventually(async () => ((await listContainers(h.invokerId, "node-init-fails")).length === 0 ? true : undefined), 20_000, "the container to go");
    expect(await invoke(h.url, "node-init-fails")).toMatchObject({ status: 502, body: { errorType: "Function.InitializerError" } });
  });

  it("answers Function.InitializerError when the initializer runs past initializationTimeout", async () => {
    await deployed("node-init-slow", { runtime: "node", initializer: "index.initializer", initializationTimeout: 1 }, {
      "index.js": "exports.initializer = () => new Promise(() => setInterval(() => {}, 1000));\nexports.handler = async () => 'served';",
    });
    const began = Date.now();
    const result = await invoke(h.url, "node-init-slow");
    expect(result.status).toBe(502);
    expect(result.body).toMatchObject({ errorType: "Function.InitializerError", errorMessage: "the initializer index.initializer did not finish within 1 s" });
    expect(Date.now() - began).toBeLessThan(8_000);
  });

  it("runs preStop before a container retires at the end of its keep-alive", async () => {
    await deployed("node-prestop", { runtime: "node", initializer: "index.initializer", preStop: "index.preStop", keepAlive: 1 }, { "index.js": NODE_HOOKS });
    const result = await invoke(h.url, "node-prestop");
    expect(result.status).toBe(200);
    await eventually(async () => ((await listContainers(h.invokerId, "node-prestop")).length === 0 ? true : undefined), 20_000, "the container to retire");
    const messages = await eventually(async () => {
      const found = await logMessages("node-prestop");
      return found.some((message) => message.includes("preStop ran")) ? found : undefined;
    }, 10_000, "preStop's log line");
    const endOfInvocation = messages.findIndex((message) => message.startsWith(`END RequestId: ${result.headers.get("x-call-id")}`));
    expect(messages.findIndex((message) => message.includes("preStop ran"))).toBeGreaterThan(endOfInvocation);
  });

  it("registers the hooks a Go source's settings name in the main Hearth generates for it", async () => {
    const source = `package main

import (
	"context"
	"fmt"
	"os"
)

func Initializer(ctx context.Context) {
	fmt.Println("go initializer ran")
	f, _ := os.OpenFile("/tmp/initialized", os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	f.WriteString("x")
	f.Close()
}

func PreStop(ctx context.Context) error {
	fmt.Println("go preStop ran")
	return nil
}

func Handler() (int, error) {
	data, err := os.ReadFile("/tmp/initialized")
	return len(data), err
}
`;
    const missing = await deploy(h.url, "go-hooks", { runtime: "go", initializer: "index.Setup" }, { "index.go": source });
    expect(missing.status).toBe(400);
    expect(await missing.json()).toMatchObject({ errorType: "Go.HandlerNotFound", errorMessage: expect.stringContaining("func Setup") });

    await deployed("go-hooks", { runtime: "go", initializer: "index.Initializer", preStop: "index.PreStop", keepAlive: 1 }, { "index.go": source });
    expect(await invoke(h.url, "go-hooks")).toMatchObject({ status: 200, body: 1 });
    expect(await invoke(h.url, "go-hooks")).toMatchObject({ status: 200, body: 1 });
    await eventually(async () => ((await listContainers(h.invokerId, "go-hooks")).length === 0 ? true : undefined), 20_000, "the container to retire");
    const messages = await eventually(async () => {
      const found = await logMessages("go-hooks");
      return found.some((message) => message.includes("go preStop ran")) ? found : undefined;
    }, 10_000, "preStop's log line");
    expect(messages.filter((message) => message.includes("go initializer ran"))).toHaveLength(1);
  });
});
