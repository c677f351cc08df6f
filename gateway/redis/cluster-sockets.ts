// With a Redis Cluster, function containers (no network) reach each master through a unix socket of
// their invoker's, one per master (a MasterSocket each), all in one directory mounted into them. Beside
// the sockets, SLOTS_MAP_FILE says which socket serves which slots; the adapter reads it when it starts
// (gateway/adapter/redis-nodes.ts). A socket keeps its name (and its containers' connections) while its
// master stays a master: a resharding moves slots between sockets in the map. A failover (a replica
// promoted: another address, the same slots) retargets the socket of the lost master to its heir, the
// master that serves its slots now, and leaves the map as it was. A master new to the map gets a socket
// named after the first slot it serves.

import { rename, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import type { Cluster } from "ioredis";
import type { Logger } from "../logger.js";
import type { Address } from "./connections.js";
import { MasterSocket } from "./master-socket.js";

/** The map's file name in the sockets' directory: `[[firstSlot, lastSlot, socketFileName], …]`. */
export const SLOTS_MAP_FILE = "slots.json";

/** Which master serves which slots, as the adapter reads it. */
export type SlotsMap = Array<[number, number, string]>;

interface ServedSocket {
  socket: MasterSocket;
  /** "host:port" of the master it forwards to. */
  master: string;
  /** The first slot that master served at the last change: where its heir is found after a failover. */
  firstSlot: number;
}

export class ClusterSockets {
  private readonly sockets = new Map<string, ServedSocket>();
  private following: Promise<void> = Promise.resolve();
  /** The ranges the map was last written from (JSON), to notice a resharding among the same masters. */
  private written = "";
  private readonly onRefresh = (): void => this.followResharding();

  private constructor(
    /** The directory containers mount: the sockets and the map. */
    readonly directory: string,
    private readonly cluster: Cluster,
    private readonly logger: Logger,
  ) {}

  /** Serves a socket per master of `cluster` (its map of slots read), in `directory`. */
  static async listen(directory: string, cluster: Cluster, logger: Logger): Promise<ClusterSockets> {
    const sockets = new ClusterSockets(directory, cluster, logger);
    await sockets.follow(Promise.resolve());
    cluster.on("refresh", sockets.onRefresh);
    return sockets;
  }

  /** The path of the map on this host. */
  get mapPath(): string {
    return path.join(this.directory, SLOTS_MAP_FILE);
  }

  /**
   * The map of slots changed (the cluster client read it again): a socket whose master is gone goes to
   * its heir, cutting its connections, and new ones wait for `ready` (the new master has the containers'
   * users) before they go there; masters new to the map get sockets of their own, sockets of masters
   * that are gone with no heir close, and the map is written again.
   */
  follow(ready: Promise<unknown>): Promise<void> {
    // One change at a time, in order: two refreshes in a row must not make a socket twice.
    this.following = this.following.catch(() => undefined).then(() => this.apply(ready));
    return this.following;
  }

  /**
   * Slots moved between the same masters (a resharding, `redis-cli --cluster rebalance`): the map is
   * written again at once, since those masters have the containers' users. A change of masters is
   * followed by the caller, once the new ones have them (follow).
   */
  private followResharding(): void {
    // An event listener of the Cluster client's: nothing may throw out of it.
    if (this.cluster.slots.length === 0) return;
    const ranges = slotRanges(this.cluster);
    const masters = new Set(ranges.map(([, , master]) => master));
    const sameMasters = masters.size === this.sockets.size && [...this.sockets.values()].every(({ master }) => masters.has(master));
    if (!sameMasters || JSON.stringify(ranges) === this.written) return;
    this.logger.warn({ ranges: ranges.length }, "Redis Cluster slots moved between masters; rewriting the containers' map of sockets");
    this.follow(Promise.resolve()).catch((err: unknown) => this.logger.error({ err }, "rewriting the containers' map of sockets failed"));
  }

  private async apply(ready: Promise<unknown>): Promise<void> {
    const ranges = slotRanges(this.cluster);
    const firstSlots = new Map<string, number>();
    for (const [first, , master] of ranges) if (!firstSlots.has(master)) firstSlots.set(master, first);
    const socketOf = new Map<string, string>();
    const orphans: string[] = [];
    for (const [name, served] of this.sockets) {
      if (firstSlots.has(served.master)) socketOf.set(served.master, name);
      else orphans.push(name);
    }
    // Once `ready` has settled, whatever its outcome: a catch-up that failed must not leave a socket
    // refusing every container (a retry finds the map unchanged and would not retarget it); a
    // container whose user is not made yet fails to log in and exits, as it would on a lost master.
    const target = (master: string): Promise<Address> => ready.catch(() => undefined).then(() => parseAddress(master));
    for (const [master, firstSlot] of firstSlots) {
      if (socketOf.has(master)) continue;
      const heir = orphans.findIndex((name) => masterOf(ranges, this.sockets.get(name)!.firstSlot) === master);
      if (heir >= 0) {
        const [name] = orphans.splice(heir, 1) as [string];
        const served = this.sockets.get(name)!;
        served.socket.retarget(target(master));
        served.master = master;
        socketOf.set(master, name);
        continue;
      }
      const name = this.freeName(firstSlot);
      this.sockets.set(name, { socket: await MasterSocket.listen(path.join(this.directory, name), target(master)), master, firstSlot });
      socketOf.set(master, name);
    }
    for (const name of orphans) {
      const { socket } = this.sockets.get(name)!;
      this.sockets.delete(name);
      await socket.close();
      await rm(socket.path, { force: true });
    }
    for (const served of this.sockets.values()) served.firstSlot = firstSlots.get(served.master)!;
    const map: SlotsMap = ranges.map(([first, last, master]) => [first, last, socketOf.get(master)!]);
    // Renamed into place: an adapter never reads half a map.
    const partial = `${this.mapPath}.${process.pid}.tmp`;
    await writeFile(partial, JSON.stringify(map), { mode: 0o644 });
    await rename(partial, this.mapPath);
    this.written = JSON.stringify(ranges);
  }

  /** `slots-<first slot>.sock`, or with a suffix when a socket that kept its name has that one. */
  private freeName(firstSlot: number): string {
    for (let n = 0; ; n += 1) {
      const name = n === 0 ? `slots-${firstSlot}.sock` : `slots-${firstSlot}-${n}.sock`;
      if (!this.sockets.has(name)) return name;
    }
  }

  async close(): Promise<void> {
    this.cluster.off("refresh", this.onRefresh);
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

function masterOf(ranges: Array<[number, number, string]>, slot: number): string | undefined {
  return ranges.find(([first, last]) => first <= slot && slot <= last)?.[2];
}

function parseAddress(hostPort: string): Address {
  const at = hostPort.lastIndexOf(":");
  return { host: hostPort.slice(0, at), port: Number(hostPort.slice(at + 1)) };
}
