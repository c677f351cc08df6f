// Calling async invocations and watching their records, as a user of the HTTP API would.

import http from "node:http";
import type { AddressInfo } from "node:net";
import { adminHeaders, eventually } from "./hearth.js";

export interface HttpAnswer {
  status: number;
  body: any;
  headers: Headers;
}

export async function invokeAsync(url: string, name: string, event: unknown = {}, headers: Record<string, string> = {}): Promise<HttpAnswer> {
  const response = await fetch(`${url}/async-function/${name}`, { method: "POST", headers: { ...adminHeaders, "content-type": "application/json", ...headers }, body: JSON.stringify(event) });
  return answer(response);
}

export async function request(url: string, method: string, path: string, body?: unknown): Promise<HttpAnswer> {
  const response = await fetch(`${url}${path}`, {
    method,
    headers: body === undefined ? adminHeaders : { ...adminHeaders, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return answer(response);
}

export async function getInvocation(url: string, id: string): Promise<any> {
  const got = await request(url, "GET", `/invocations/${id}`);
  if (got.status !== 200) throw new Error(`GET /invocations/${id} answered ${got.status}: ${JSON.stringify(got.body)}`);
  return got.body;
}

const FINAL = ["succeeded", "failed", "dead-lettered", "cancelled"];

/** The record once it reaches a final status. */
export async function finalRecord(url: string, id: string, timeoutMs = 30_000): Promise<any> {
  return eventually(async () => {
    const record = await getInvocation(url, id);
    return FINAL.includes(record.status) ? record : undefined;
  }, timeoutMs, `invocation ${id} to finish`);
}

async function answer(response: Response): Promise<HttpAnswer> {
  const text = await response.text();
  let body: unknown = text;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    // not JSON: kept as text
  }
  return { status: response.status, body, headers: response.headers };
}

export interface ReceivedCall {
  headers: http.IncomingHttpHeaders;
  body: string;
}

/**
 * An HTTP server of the test's on loopback: records what arrives and answers with the next of
 * `statuses` (the last one repeats). Handlers reach it to report or to ask what to do; callbacks
 * are delivered to it.
 */
export async function startReceiver(statuses: number[] = [200], reply = ""): Promise<{ url: string; calls: ReceivedCall[]; setReply(text: string): void; close(): Promise<void> }> {
  const calls: ReceivedCall[] = [];
  let current = reply;
  const server = http.createServer((req, res) => {
    let body = "";
    req.on("data", (chunk: Buffer) => (body += chunk.toString("utf8")));
    req.on("end", () => {
      calls.push({ headers: req.headers, body });
      res.statusCode = statuses[Math.min(calls.length - 1, statuses.length - 1)]!;
      res.end(current);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/receive`,
    calls,
    setReply: (text) => (current = text),
    close: () => new Promise((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}
