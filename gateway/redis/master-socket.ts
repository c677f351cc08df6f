// With Sentinel the master moves, and function containers (no network) cannot follow it: the invoker
// serves a unix socket of its own, mounted into them, and forwards each connection to the master of
// the moment (with a Redis Cluster, one per master: cluster-sockets.ts). After a failover it cuts the
// connections to the old master, so that no container keeps talking to a node that is no longer the
// master; their replacements reach the new one.

import { chmod, mkdir, rm } from "node:fs/promises";
import net from "node:net";
import path from "node:path";
import type { Address } from "./connections.js";

export class MasterSocket {
  private readonly open = new Set<net.Socket>();

  private constructor(
    /** The socket's path on this host (containers mount its directory). */
    readonly path: string,
    private readonly server: net.Server,
    /** Where new connections go; a promise while the new master is being made ready for containers (none: refused). */
    private target: Promise<Address | undefined>,
  ) {}

  /** Serves `socketPath` (in a directory containers mount), forwarding to `master` (once known). */
  static async listen(socketPath: string, master: Address | Promise<Address | undefined>): Promise<MasterSocket> {
    // Containers connect as uid 0 without CAP_DAC_OVERRIDE: the socket is open to local users, and
    // each container's Redis user and password guard what is behind it (as with Redis's own socket).
    await mkdir(path.dirname(socketPath), { recursive: true });
    await chmod(path.dirname(socketPath), 0o755);
    await rm(socketPath, { force: true }); // left by an earlier run
    const forwarder = new MasterSocket(socketPath, net.createServer(), Promise.resolve(master));
    forwarder.server.on("connection", (client) => forwarder.forward(client));
    await new Promise<void>((resolve, reject) => {
      forwarder.server.once("error", reject);
      forwarder.server.listen(socketPath, () => resolve());
    });
    await chmod(socketPath, 0o777);
    return forwarder;
  }

  /** The master changed: cuts every forwarded connection; new ones wait for `next`, then go there. */
  retarget(next: Promise<Address | undefined>): void {
    this.target = next;
    for (const socket of this.open) socket.destroy();
  }

  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const socket of this.open) socket.destroy();
    await closed;
  }

  private forward(client: net.Socket): void {
    this.track(client);
    client.pause(); // what the container sends before the master answers waits in the socket
    void this.target.then((master) => {
      if (!master || client.destroyed) return void client.destroy();
      const { host, port } = master;
      const upstream = net.connect({ host, port });
      this.track(upstream);
      const closeBoth = (): void => {
        client.destroy();
        upstream.destroy();
      };
      client.on("close", closeBoth);
      upstream.on("close", closeBoth);
      upstream.once("connect", () => {
        client.pipe(upstream);
        upstream.pipe(client);
        client.resume();
      });
    });
  }

  private track(socket: net.Socket): void {
    this.open.add(socket);
    socket.on("error", () => undefined); // a reset on either side closes both (above)
    socket.on("close", () => this.open.delete(socket));
  }
}
