// The folders `hearth init` writes: a handler that greets, its settings, and a .hearthignore, per runtime.

export const RUNTIMES = ["node", "python", "go", "custom"] as const;
export type Runtime = (typeof RUNTIMES)[number];

export type Files = Record<string, string>;

export interface Template {
  files: Files;
  /** The files written executable (a custom runtime's bootstrap). */
  executables: string[];
}

const HANDLERS: Record<Runtime, { handler: string; files: Files; ignore: string[]; executables?: string[] }> = {
  node: {
    handler: "index.handler",
    files: {
      "index.js": `// event: the JSON body of the request; what the handler returns is the response.
exports.handler = async (event, context) => {
  console.log("greeting", event.name ?? "the world");
  return { greeting: \`hello, \${event.name ?? "world"}\`, requestId: context.awsRequestId };
};
`,
    },
    ignore: ["*.test.js", "npm-debug.log*"],
  },
  python: {
    handler: "index.handler",
    files: {
      "index.py": `# event: the JSON body of the request; what the handler returns is the response.
def handler(event, context):
    name = event.get("name") if isinstance(event, dict) else None
    print("greeting", name or "the world")
    return {"greeting": f"hello, {name or 'world'}", "requestId": context.aws_request_id}
`,
    },
    ignore: ["__pycache__/", "*.pyc", ".venv/"],
  },
  go: {
    handler: "index.Handler",
    files: {
      // Yandex Cloud Functions style: package main, an exported handler, no main; Hearth compiles it at deploy.
      "index.go": `package main

import (
	"context"
	"fmt"
)

// Event is the JSON body of the request.
type Event struct {
	Name string \`json:"name"\`
}

// Response is sent back as JSON.
type Response struct {
	Greeting string \`json:"greeting"\`
}

func Handler(ctx context.Context, event Event) (*Response, error) {
	name := event.Name
	if name == "" {
		name = "world"
	}
	fmt.Println("greeting", name)
	return &Response{Greeting: fmt.Sprintf("hello, %s", name)}, nil
}
`,
    },
    ignore: ["*_test.go"],
  },
  custom: {
    // Passed to the runtime as _HANDLER; what it means is the bootstrap's business.
    handler: "greet",
    executables: ["bootstrap"],
    files: {
      // As Lambda's provided runtimes: the executable bootstrap is the runtime, a client of the Lambda
      // runtime API. Node is in Hearth's custom image; a static binary named bootstrap works the same.
      bootstrap: `#!/usr/bin/env node
// This executable is the function's runtime: it asks the Lambda runtime API (AWS_LAMBDA_RUNTIME_API) for
// each event, runs handle(), and posts what it returns, or the error it throws.
"use strict";
const http = require("node:http");

// event: the request's body (parsed when it is JSON); what this returns is the response.
async function handle(event, requestId) {
  const name = event && typeof event === "object" && event.name ? event.name : "world";
  console.log("greeting", name);
  return { greeting: \`hello, \${name}\`, requestId };
}

const [host, port] = process.env.AWS_LAMBDA_RUNTIME_API.split(":");

function call(method, path, body, headers = {}) {
  return new Promise((resolve, reject) => {
    const request = http.request({ host, port, method, path: \`/2018-06-01/runtime\${path}\`, headers }, (response) => {
      const chunks = [];
      response.on("data", (chunk) => chunks.push(chunk));
      response.on("end", () => resolve({ headers: response.headers, body: Buffer.concat(chunks).toString("utf8") }));
    });
    request.on("error", reject);
    request.end(body);
  });
}

async function main() {
  for (;;) {
    const next = await call("GET", "/invocation/next");
    const requestId = next.headers["lambda-runtime-aws-request-id"];
    let event;
    try {
      event = JSON.parse(next.body);
    } catch {
      event = next.body;
    }
    try {
      const result = await handle(event, requestId);
      await call("POST", \`/invocation/\${requestId}/response\`, JSON.stringify(result), { "Content-Type": "application/json" });
    } catch (error) {
      const body = JSON.stringify({ errorType: error.name ?? "Error", errorMessage: String(error.message ?? error) });
      await call("POST", \`/invocation/\${requestId}/error\`, body, { "Lambda-Runtime-Function-Error-Type": "Unhandled" });
    }
  }
}

main().catch((error) => {
  console.error("the runtime failed:", error);
  process.exit(1);
});
`,
    },
    ignore: [],
  },
};

/** The files of a new function folder; `hearth.json` holds what `hearth deploy` sends as settings. */
export function template(runtime: Runtime, name: string): Template {
  const { handler, files, ignore, executables = [] } = HANDLERS[runtime];
  const settings = { name, runtime, handler, timeout: 30, memory: 256 };
  return {
    files: {
      ...files,
      "hearth.json": `${JSON.stringify(settings, null, 2)}\n`,
      ".hearthignore": `# Files left out of the code package (gitignore syntax).\n${ignore.map((pattern) => `${pattern}\n`).join("")}`,
    },
    executables,
  };
}
