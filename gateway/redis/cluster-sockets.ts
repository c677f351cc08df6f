// With a Redis Cluster, function containers (no network) reach each master through a unix socket of
// their invoker's, one per master (a MasterSocket each), all in one directory mounted into them. Beside
// the sockets, SLOTS_MAP_FILE says which socket serves which slots; the adapter reads it when it starts
// (gateway/adapter/redis-nodes.ts). A socket is named after the first slot its master serves, so a
// failover (a replica promoted: another address, the same slots) retargets a socket and leaves the map
// as it was; a resharding that names other masters makes new sockets and a new map.

import { rename, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import type { Cluster } from "ioredis";
import type { Address } from "./connections.js";
import { MasterSocket } from "./master-socket.js";

/** The map's file name in the sockets' directory: `[[firstSlot, lastSlot, socketFileName], …]`. */
export const SLOTS_MAP_FILE = "slots.json";

/** Which master serves which slots, as the adapter reads it. */
export type SlotsMap = Array<[number, number, string]>;

export class ClusterSockets {
  private readonly sockets = new Map<string, { socket: MasterSocket; master: string }>();
  private following: Promise<void> = Promise.resolve();

  private constructor(
    /** The directory containers mount: the sockets and the map. */
    readonly directory: string,
    private readonly cluster: Cluster,
  ) {}

  /** Serves a socket per master of `cluster` (its map of slots read), in `directory`. */
  static async listen(directory: string, cluster: Cluster): Promise<ClusterSockets> {
    const sockets = new ClusterSockets(directory, cluster);
    await sockets.follow(Promise.resolve());
    return sockets;
  }

  /** The path of the map on this host. */
  get mapPath(): string {
    return path.join(this.directory, SLOTS_MAP_FILE);
  }

  /**
   * The masters changed (the cluster client read its map of slots again): each socket whose master
   * is another now cuts its connections, and new ones wait for `ready` (the new master has the
   * containers' users) before they go there; masters new to the map get sockets of their own.
   */
  follow(ready: Promise<unknown>): Promise<void> {
    // One change at a time, in order: two refreshes in a row must not make a socket twice.
    this.following = this.following.catch(() => undefined).then(() => this.apply(ready));
    return this.following;
  }

  private async apply(ready: Promise<unknown>): Promise<void> {
    const ranges = slotRanges(this.cluster);
    const wanted = new Map<string, string>();
    for (const [first, , master] of ranges) if (!wanted.has(master)) wanted.set(master, `slots-${first}.sock`);
    const names = new Map([...wanted].map(([master, name]) => [name, master]));
    for (const [name, { socket }] of this.sockets) {
      if (names.has(name)) continue;
      this.sockets.delete(name);
      await socket.close();
      await rm(socket.path, { force: true });
    }
    for (const [name, master] of names) {
      const current = this.sockets.get(name);
      if (current?.master === master) continue;
      // Once `ready` has settled, whatever its outcome: a catch-up that failed must not leave the socket
      // refusing every container (a retry finds the master unchanged and would not retarget it); a
      // container whose user is not made yet fails to log in and exits, as it would on a lost master.
      const target = ready.catch(() => undefined).then(() => parseAddress(master));
      if (current) {
        current.socket.retarget(target);
        current.master = master;
      } else {
        this.sockets.set(name, { socket: await MasterSocket.listen(path.join(this.directory, name), target), master });
      }
    }
    const map: SlotsMap = ranges.map(([first, last, master]) => [first, last, wanted.get(master)!]);
    // Renamed into place: an adapter never reads half a map.
    const partial = `${this.mapPath}.${process.pid}.tmp`;
    await writeFile(partial, JSON.stringify(map), { mode: 0o644 });
    await rename(partial, this.mapPath);
  }

  async close(): Promise<void> {
    await this.following.catch(() => undefined);
    for (const { socket } of this.sockets.values()) await socket.close();
    this.sockets.clear();
    await rm(this.mapPath, { force: true });
  }
}

/** The cluster client's map of slots as ranges: `[first, last, "host:port" of the master]`, in slot order. */
function slotRanges(cluster: Cluster): Array<[number, number, string]> {
  const ranges: Array<[number, number, string]> = [];
  cluster.slots.forEach((nodes, slot) => {
    const master = (nodes as string[] | undefined)?.[0];
    if (!master) return;
    const last = ranges.at(-1);
    if (last && last[2] === master && last[1] === slot - 1) last[1] = slot;
    else ranges.push([slot, slot, master]);
  });
  if (ranges.length === 0) throw new Error("the Redis Cluster client has no map of slots");
  return ranges;
}

function parseAddress(hostPort: string): Address {
  const at = hostPort.lastIndexOf(":");
  return { host: hostPort.slice(0, at), port: Number(hostPort.slice(at + 1)) };
}
