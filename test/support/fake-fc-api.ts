// A stand-in for the adapter's Function Compute runtime API (2020-11-11), to run a compiled Go function
// on the host: the test hands it requests one at a time and reads back what the runtime posted.

import http from "node:http";
import type { AddressInfo } from "node:net";

export interface Posted {
  kind: "response" | "error";
  contentType: string | undefined;
  body: string;
}

export interface FakeFcApi {
  /** host:port, for FC_RUNTIME_API. */
  address: string;
  /** Gives the runtime's pending GET /next the request `body` and resolves with its answer. */
  invoke(body: string): Promise<Posted & { requestId: string }>;
  /** Resolves with the body of a POST /init/error. */
  initError: Promise<string>;
  close(): Promise<void>;
}

const PREFIX = "/2020-11-11/runtime";

export async function startFakeFcApi(): Promise<FakeFcApi> {
  const queued: Array<{ id: string; body: string }> = [];
  const waitingNext: http.ServerResponse[] = [];
  const answers = new Map<string, (posted: Posted) => void>();
  let reportInitError!: (body: string) => void;
  const initError = new Promise<string>((resolve) => (reportInitError = resolve));
  let count = 0;

  const handOver = (res: http.ServerResponse, next: { id: string; body: string }): void => {
    res.writeHead(200, {
      "x-fc-request-id": next.id,
      "x-fc-function-deadline": String(Date.now() + 60_000),
      "x-fc-function-timeout": "60",
      "x-fc-function-memory": "256",
    });
    res.end(next.body);
  };

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const url = req.url ?? "";
      if (req.method === "GET" && url === `${PREFIX}/invocation/next`) {
        const next = queued.shift();
        if (next) handOver(res, next);
        else waitingNext.push(res);
        return;
      }
      const body = Buffer.concat(chunks).toString("utf8");
      const result = new RegExp(`^${PREFIX}/invocation/([^/]+)/(response|error)$`).exec(url);
      if (req.method === "POST" && result) {
        answers.get(decodeURIComponent(result[1]!))?.({ kind: result[2] as Posted["kind"], contentType: req.headers["content-type"], body });
      } else if (req.method === "POST" && url === `${PREFIX}/init/error`) {
        reportInitError(body);
      } else {
        res.writeHead(404);
      }
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));

  return {
    address: `127.0.0.1:${(server.address() as AddressInfo).port}`,
    invoke: (body) => {
      const id = `req-${++count}`;
      const answered = new Promise<Posted>((resolve) => answers.set(id, resolve));
      const waiting = waitingNext.shift();
      if (waiting) handOver(waiting, { id, body });
      else queued.push({ id, body });
      return answered.then((posted) => ({ ...posted, requestId: id }));
    },
    initError,
    close: () => {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
