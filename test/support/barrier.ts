import http from "node:http";
import type { AddressInfo } from "node:net";

/**
 * Holds each arriving request until `parties` have arrived, then answers all "together"; a request
 * still waiting after `timeoutMs` is answered "alone". Proves concurrency without timing assumptions.
 */
export async function startBarrier(parties: number, timeoutMs = 20_000): Promise<{ url: string; close(): Promise<void> }> {
  const waiting: http.ServerResponse[] = [];
  const server = http.createServer((_req, res) => {
    waiting.push(res);
    const timer = setTimeout(() => res.end("alone"), timeoutMs);
    res.on("close", () => clearTimeout(timer));
    if (waiting.length >= parties) for (const held of waiting.splice(0)) held.end("together");
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/arrive`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/** Holds every arriving request until open() is called; after that, answers at once. */
export async function startGate(): Promise<{ url: string; open(): void; close(): Promise<void> }> {
  const held: http.ServerResponse[] = [];
  let opened = false;
  const server = http.createServer((_req, res) => (opened ? res.end("open") : held.push(res)));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/gate`,
    open: () => {
      opened = true;
      for (const res of held.splice(0)) res.end("open");
    },
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
