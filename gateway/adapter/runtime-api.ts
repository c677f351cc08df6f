// The runtime APIs the adapter serves on loopback inside the container to the language runtime:
// the AWS Lambda Runtime API (2018-06-01) and the Alibaba Function Compute runtime API (2020-11-11).
// Both ask for the next event, then post a response or an error; they differ in paths, headers and
// the status of a post's answer. One invocation at a time: a /next that arrives while one runs
// (FC's client does that) is held until the next invocation, and /next is never answered with an
// error, since FC's client retries it in a tight loop.

import http from "node:http";
import type { AddressInfo } from "node:net";

/** Lambda's limit on a sync response payload. */
export const MAX_RESPONSE_BYTES = 6 * 1024 * 1024;

/** What the runtime is told about the function it runs, the same for every invocation. */
export interface RuntimeFunction {
  name: string;
  version: number;
  handler: string;
  memoryMb: number;
  timeoutSeconds: number;
  region: string;
  arn: string;
}

export interface Invocation {
  id: string;
  payload: Buffer;
  deadlineMs: number;
  /** Earlier attempts of this (async) invocation: 0 on the first. */
  retryCount: number;
  /** A lifecycle hook (Function Compute's initializer or preStop) instead of the handler. */
  hook?: LifecycleHook;
}

export interface LifecycleHook {
  kind: "initialize" | "pre-stop";
  /** The hook's handler (file.export). */
  handler: string;
}

/**
 * How a hook is told from an invocation, as Function Compute tells its runtimes: its SDKs read
 * `x-fc-function-type` (0 handler, 1 initializer, 3 preStop), its HTTP runtimes `x-fc-control-path`;
 * `x-fc-function-handler` names the hook's handler. Sent on the Lambda API too, for Hearth's bootstraps.
 */
function hookHeaders(hook: LifecycleHook): http.OutgoingHttpHeaders {
  return {
    "x-fc-function-type": hook.kind === "initialize" ? "1" : "3",
    "x-fc-control-path": hook.kind === "initialize" ? "/initialize" : "/pre-stop",
    "x-fc-function-handler": hook.handler,
  };
}

interface Dialect {
  prefix: string;
  /** Status of the answer to a posted response or error (FC's clients treat 202 as a failure). */
  acceptedStatus: number;
  eventHeaders(fn: RuntimeFunction, invocation: Invocation): http.OutgoingHttpHeaders;
}

const LAMBDA: Dialect = {
  prefix: "/2018-06-01/runtime",
  acceptedStatus: 202,
  eventHeaders: (fn, invocation) => ({
    "Lambda-Runtime-Aws-Request-Id": invocation.id,
    "Lambda-Runtime-Deadline-Ms": String(invocation.deadlineMs),
    "Lambda-Runtime-Invoked-Function-Arn": fn.arn,
    "Lambda-Runtime-Trace-Id": `Root=1-${Math.floor(Date.now() / 1000).toString(16)}-${invocation.id.replace(/-/g, "").slice(0, 24)};Sampled=0`,
    ...(invocation.hook && hookHeaders(invocation.hook)),
  }),
};

const FUNCTION_COMPUTE: Dialect = {
  prefix: "/2020-11-11/runtime",
  acceptedStatus: 200,
  // FC's client waits forever for an event without the deadline and the timeout.
  eventHeaders: (fn, invocation) => ({
    "x-fc-request-id": invocation.id,
    "x-fc-function-deadline": String(invocation.deadlineMs),
    "x-fc-function-timeout": String(fn.timeoutSeconds),
    "x-fc-function-name": fn.name,
    "x-fc-function-handler": fn.handler,
    "x-fc-function-memory": String(fn.memoryMb),
    "x-fc-region": fn.region,
    "x-fc-retry-count": String(invocation.retryCount),
    "x-fc-function-type": "0",
    "x-fc-control-path": "/invoke",
    ...(invocation.hook && hookHeaders(invocation.hook)),
  }),
};

const DIALECTS = [LAMBDA, FUNCTION_COMPUTE];

export type RuntimeOutcome =
  | { kind: "response"; body: Buffer }
  | { kind: "error"; body: Buffer; errorType?: string }
  | { kind: "response-too-large"; bytes: number }
  | { kind: "timeout" }
  | { kind: "exit"; how: string };

/** How many answered ids are remembered to tell 403 from 400 (a runtime only ever repeats recent ones). */
const FINISHED_IDS_KEPT = 100;

export type Readiness = { ready: true } | { ready: false; error: Buffer };

interface HeldNext {
  res: http.ServerResponse;
  dialect: Dialect;
}

interface Current {
  invocation: Invocation;
  delivered: boolean;
  settle(outcome: RuntimeOutcome): void;
}

export class RuntimeApi {
  private readonly server = http.createServer((req, res) =>
    this.route(req, res).catch(() => {
      // A runtime that died mid-POST, or a malformed request id: refuse it, never crash the adapter.
      if (res.headersSent) res.destroy();
      else reply(res, 400, { errorMessage: "malformed request", errorType: "InvalidRequest" });
    }),
  );
  private readonly heldNext: HeldNext[] = [];
  private current?: Current;
  /** Ids already answered, to tell "wrong state" (403) from "unknown id" (400). */
  private readonly finished = new Set<string>();
  private readyWaiter?: (outcome: Readiness) => void;
  private initError?: Buffer;

  /**
   * `onIdle` is called whenever the runtime waits for work with nothing running: the adapter freezes
   * the runtime then, as Lambda does, so that what a handler left running waits for the next invocation.
   */
  constructor(
    private readonly fn: RuntimeFunction,
    private readonly onIdle: () => void = () => {},
  ) {}

  async listen(): Promise<number> {
    // The only client is the runtime, whose /next may wait as long as the keep-alive: no timeouts.
    this.server.requestTimeout = 0;
    this.server.keepAliveTimeout = 0;
    await new Promise<void>((resolve) => this.server.listen(0, "127.0.0.1", resolve));
    return (this.server.address() as AddressInfo).port;
  }

  close(): void {
    this.server.closeAllConnections();
    this.server.close();
  }

  /** Resolves when the runtime first asks for work (it is initialised) or reports an init error. */
  waitReady(): Promise<Readiness> {
    if (this.initError) return Promise.resolve({ ready: false, error: this.initError });
    if (this.heldNext.length > 0) return Promise.resolve({ ready: true });
    return new Promise((resolve) => (this.readyWaiter = resolve));
  }

  invoke(invocation: Invocation): Promise<RuntimeOutcome> {
    return new Promise((resolve) => {
      this.current = {
        invocation,
        delivered: false,
        settle: (outcome) => {
          this.rememberFinished(invocation.id);
          this.current = undefined;
          // A runtime that asked for its next event early (FC's clients do) is idle from now on.
          if (this.heldNext.length > 0) this.onIdle();
          resolve(outcome);
        },
      };
      const next = this.heldNext.shift();
      if (next) this.deliver(next.res, next.dialect);
    });
  }

  /** Ends the running invocation from outside with `outcome` (timeout, runtime exit). */
  interrupt(outcome: RuntimeOutcome): void {
    this.current?.settle(outcome);
  }

  /** Forgets the state of a runtime process that is gone, before the next one starts. */
  reset(): void {
    this.current = undefined;
    this.initError = undefined;
    for (const held of this.heldNext.splice(0)) held.res.destroy();
  }

  private rememberFinished(id: string): void {
    this.finished.add(id);
    if (this.finished.size > FINISHED_IDS_KEPT) this.finished.delete(this.finished.values().next().value!);
  }

  private async route(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = req.url ?? "";
    const dialect = DIALECTS.find((candidate) => url.startsWith(candidate.prefix + "/"));
    const path = dialect ? url.slice(dialect.prefix.length) : url;
    if (dialect && req.method === "GET" && path === "/invocation/next") return this.next(res, dialect);
    if (dialect && req.method === "POST" && path === "/init/error") {
      this.initError = (await readBody(req, MAX_RESPONSE_BYTES)) ?? Buffer.from("{}");
      reply(res, dialect.acceptedStatus, { status: "OK" });
      return this.settleReadiness({ ready: false, error: this.initError });
    }
    const match = /^\/invocation\/([^/]+)\/(response|error)$/.exec(path);
    if (dialect && req.method === "POST" && match) {
      return this.result(req, res, dialect, decodeURIComponent(match[1]!), match[2] as "response" | "error");
    }
    req.resume();
    reply(res, 404, { errorMessage: `no route ${req.method} ${url}`, errorType: "InvalidRequest" });
  }

  private next(res: http.ServerResponse, dialect: Dialect): void {
    if (this.current && !this.current.delivered) return this.deliver(res, dialect);
    const held = { res, dialect };
    this.heldNext.push(held);
    res.on("close", () => {
      const index = this.heldNext.indexOf(held);
      if (index >= 0) this.heldNext.splice(index, 1);
    });
    this.settleReadiness({ ready: true });
    if (!this.current) this.onIdle();
  }

  private settleReadiness(readiness: Readiness): void {
    this.readyWaiter?.(readiness);
    this.readyWaiter = undefined;
  }

  private deliver(res: http.ServerResponse, dialect: Dialect): void {
    const current = this.current!;
    current.delivered = true;
    res.writeHead(200, { "Content-Type": "application/json", ...dialect.eventHeaders(this.fn, current.invocation) });
    res.end(current.invocation.payload);
  }

  private async result(req: http.IncomingMessage, res: http.ServerResponse, dialect: Dialect, id: string, kind: "response" | "error"): Promise<void> {
    const current = this.current;
    if (!current || current.invocation.id !== id || !current.delivered) {
      req.resume();
      if (this.finished.has(id)) return reply(res, 403, { errorMessage: `invocation ${id} is already finished`, errorType: "InvalidStateTransition" });
      return reply(res, 400, { errorMessage: `unknown request id ${id}`, errorType: "InvalidRequestID" });
    }
    const body = await readBody(req, MAX_RESPONSE_BYTES);
    if (body === undefined) {
      reply(res, 413, { errorMessage: `response payload exceeds ${MAX_RESPONSE_BYTES} bytes`, errorType: "RequestEntityTooLarge" });
      current.settle({ kind: "response-too-large", bytes: Number(req.headers["content-length"] ?? 0) });
      return;
    }
    const errorType = req.headers["lambda-runtime-function-error-type"];
    current.settle(kind === "response" ? { kind, body } : { kind, body, errorType: typeof errorType === "string" ? errorType : undefined });
    // The caller's result leaves first (its Redis write goes out on this tick); the runtime can wait.
    setImmediate(() => reply(res, dialect.acceptedStatus, { status: "OK" }));
  }
}

/** The whole body, or undefined once it passes `limit` bytes (the rest is drained). */
function readBody(req: http.IncomingMessage, limit: number): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size <= limit) chunks.push(chunk);
    });
    req.on("end", () => resolve(size <= limit ? Buffer.concat(chunks) : undefined));
    req.on("error", reject);
  });
}

function reply(res: http.ServerResponse, status: number, body: object): void {
  res.writeHead(status, { "Content-Type": "application/json" });
  res.end(JSON.stringify(body));
}
