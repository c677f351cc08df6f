// A loopback HTTP server the benchmark's handler calls (`wait`): /hold answers only once open() is
// called (requests held in flight), /notify answers at once and records when it was called.

import http from "node:http";
import type { AddressInfo } from "node:net";

export interface Gate {
  holdUrl: string;
  notifyUrl: string;
  /** Requests currently held at /hold. */
  readonly held: number;
  open(): void;
  /** Resolves with the epoch ms of the next /notify call. */
  nextNotify(): Promise<number>;
  close(): Promise<void>;
}

export async function startGate(): Promise<Gate> {
  const held: http.ServerResponse[] = [];
  let opened = false;
  let notifyWaiters: Array<(at: number) => void> = [];
  const server = http.createServer((req, res) => {
    if (req.url === "/notify") {
      const at = performance.timeOrigin + performance.now();
      for (const waiter of notifyWaiters.splice(0)) waiter(at);
      res.end("ok");
      return;
    }
    if (opened) res.end("open");
    else held.push(res);
  });
  server.keepAliveTimeout = 1000;
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    holdUrl: `${base}/hold`,
    notifyUrl: `${base}/notify`,
    get held() {
      return held.length;
    },
    open() {
      opened = true;
      for (const res of held.splice(0)) res.end("open");
    },
    nextNotify: () => new Promise((resolve) => notifyWaiters.push(resolve)),
    close: () =>
      new Promise((resolve) => {
        notifyWaiters = [];
        for (const res of held.splice(0)) res.end("closed");
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
