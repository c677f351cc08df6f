// The folders `hearth init` writes: a handler that greets, its settings, and a .hearthignore, per runtime.

export const RUNTIMES = ["node", "python", "go"] as const;
export type Runtime = (typeof RUNTIMES)[number];

export type Files = Record<string, string>;

const HANDLERS: Record<Runtime, { handler: string; files: Files; ignore: string[] }> = {
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
};

/** The files of a new function folder; `hearth.json` holds what `hearth deploy` sends as settings. */
export function templateFiles(runtime: Runtime, name: string): Files {
  const template = HANDLERS[runtime];
  const settings = { name, runtime, handler: template.handler, timeout: 30, memory: 256 };
  return {
    ...template.files,
    "hearth.json": `${JSON.stringify(settings, null, 2)}\n`,
    ".hearthignore": `# Files left out of the code package (gitignore syntax).\n${template.ignore.join("\n")}\n`,
  };
}
