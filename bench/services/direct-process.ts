// Starts the direct express server (direct-server.ts) as a child process and learns its port.

import { fork } from "node:child_process";
import { DIRECT_SERVER_ENTRY, NOOP_HANDLER } from "../paths.js";
import { stopChild } from "./hearth-process.js";

export interface DirectServer {
  url: string;
  pid: number;
  stop(): Promise<void>;
}

export async function startDirectServer(): Promise<DirectServer> {
  const child = fork(DIRECT_SERVER_ENTRY, [NOOP_HANDLER], { stdio: ["ignore", "inherit", "inherit", "ipc"] });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const port = await new Promise<number>((resolve, reject) => {
    child.once("message", (message: { port: number }) => resolve(message.port));
    void exited.then(() => reject(new Error("the direct express server exited at start")));
  });
  return { url: `http://127.0.0.1:${port}/`, pid: child.pid!, stop: () => stopChild(child, exited, 5_000) };
}
