// Stem cells of one invoker: per runtime, so many containers started before any function needs them
// (the adapter booted and connected to Redis, waiting on its stem key), which a function's first
// container start takes instead of creating one. Each holds its room on the host like a container;
// that room is handed to whichever function needs it (the cell is removed if it does not fit).
// States: starting (Docker creates it) → ready (running, its adapter waits) → specializing (handed to a
// function, until its `ready` event); then it is a container of that function and no stem cell.

import { randomBytes } from "node:crypto";
import { DEFAULT_EPHEMERAL_STORAGE_MB, RUNTIMES, type Runtime } from "../functions/definition.js";
import type { Logger } from "../logger.js";
import type { ContainerUsers } from "./container-users.js";
import type { ContainerBackend, StemCellSpec } from "./docker-backend.js";
import type { HostCapacity } from "./host-capacity.js";

/** A stem cell's memory limit: a default function's; raised or lowered at specialization (Docker updates a running container's limit). */
export const STEM_CELL_MEMORY_MB = 256;
/** Smaller functions start normally: shrinking the limit under the booted adapter's own use (~50 MB) could OOM-kill it. */
const STEM_CELL_MIN_FUNCTION_MEMORY_MB = 128;
/** After a stem cell failed to start or died, how long before its runtime's pool is refilled (a broken image does not loop). */
const REFILL_RETRY_MS = 5_000;

export type StemCellState = "starting" | "ready" | "specializing";

export interface StemCell {
  stemId: string;
  runtime: Runtime;
  memoryMb: number;
  ephemeralStorageMb: number;
  state: StemCellState;
  dockerId?: string;
}

/** The limits of the container a function needs: a stem cell serves it only if they match its own (memory may change). */
export interface NeededContainer {
  runtime: Runtime;
  memoryMb: number;
  ephemeralStorageMb: number;
  network: string;
}

export class StemCells {
  private readonly cells = new Map<string, StemCell>();
  private readonly starts = new Set<Promise<void>>();
  private retryTimer?: NodeJS.Timeout;
  private stopped = false;

  constructor(
    private readonly targets: Record<Runtime, number>,
    private readonly backend: ContainerBackend,
    private readonly users: ContainerUsers,
    private readonly capacity: HostCapacity,
    private readonly invokerId: string,
    private readonly logger: Logger,
    /** False while a function waits for room on the host: stem cells must not take it. */
    private readonly mayGrow: () => boolean,
  ) {}

  has(stemId: string): boolean {
    return this.cells.has(stemId);
  }

  /** The stem cells there are now, for tests and the logs. */
  list(): StemCell[] {
    return [...this.cells.values()];
  }

  /** Starts stem cells (in the background) until each runtime has its count, while the host has room for them. */
  refill(): void {
    if (this.stopped || !this.mayGrow()) return;
    for (const runtime of RUNTIMES) {
      let missing = this.targets[runtime] - this.list().filter((cell) => cell.runtime === runtime && cell.state !== "specializing").length;
      for (; missing > 0 && this.hasRoom(); missing -= 1) this.startOne(runtime);
    }
  }

  /** The room one stem cell would give back if removed: a function may claim it. */
  spareRoom(): { containers: number; memoryMb: number } {
    return this.list().some((cell) => cell.state !== "specializing") ? { containers: 1, memoryMb: STEM_CELL_MEMORY_MB } : { containers: 0, memoryMb: 0 };
  }

  /** A ready stem cell that can become a container of these limits, marked specializing; its room is given back. */
  take(needed: NeededContainer): StemCell | undefined {
    if (needed.network !== "none" || needed.memoryMb < STEM_CELL_MIN_FUNCTION_MEMORY_MB) return undefined;
    const cell = this.list().find((c) => c.state === "ready" && c.runtime === needed.runtime && c.ephemeralStorageMb === needed.ephemeralStorageMb);
    if (!cell) return undefined;
    cell.state = "specializing";
    this.capacity.give(cell.stemId);
    return cell;
  }

  /** Removes one stem cell not being specialized (a starting one first, else the newest): its room is free at once. */
  discardOne(): boolean {
    const cell = this.list().find((c) => c.state === "starting") ?? this.list().reverse().find((c) => c.state === "ready");
    if (!cell) return false;
    this.logger.info({ stemId: cell.stemId, runtime: cell.runtime }, "removing a stem cell to make room");
    this.forget(cell);
    // A starting one is removed by its start when Docker answers (it is no longer known then).
    if (cell.dockerId) void this.backend.remove(cell.dockerId).catch((err) => this.logger.warn({ err, stemId: cell.stemId }, "removing a stem cell failed"));
    return true;
  }

  /**
   * It registered as its function's container: the stem cell's own Redis user goes, the cell is no
   * longer one, and another is started (now, off the path of the request that took it).
   */
  specialized(stemId: string): void {
    const cell = this.cells.get(stemId);
    if (cell?.state !== "specializing") return;
    this.forget(cell);
    this.refill();
  }

  /**
   * A container of this label id exited. Returns true when it was a stem cell not yet handed to a
   * function (replaced after a moment); false otherwise (a specializing one is its function's now).
   */
  exited(stemId: string): boolean {
    const cell = this.cells.get(stemId);
    if (!cell) return false;
    this.forget(cell);
    if (cell.state === "specializing") {
      this.refill();
      return false;
    }
    this.logger.warn({ stemId, runtime: cell.runtime }, "a stem cell exited; replacing it");
    this.refillLater();
    return true;
  }

  /** Removes every stem cell not handed to a function (those are drained with their function's containers). */
  async stop(removalTimeoutMs: number): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    await Promise.all(this.starts);
    const idle = this.list().filter((cell) => cell.state !== "specializing");
    await Promise.all(
      idle.map(async (cell) => {
        this.forget(cell);
        if (!cell.dockerId) return;
        await this.backend.remove(cell.dockerId);
        await this.backend.waitRemoved(cell.dockerId, removalTimeoutMs);
      }),
    );
  }

  private hasRoom(): boolean {
    const free = this.capacity.free();
    return free.containers >= 1 && free.memoryMb >= STEM_CELL_MEMORY_MB;
  }

  private startOne(runtime: Runtime): void {
    const spec: StemCellSpec = { stemId: randomBytes(6).toString("hex"), runtime, memoryMb: STEM_CELL_MEMORY_MB, ephemeralStorageMb: DEFAULT_EPHEMERAL_STORAGE_MB, network: "none" };
    const cell: StemCell = { stemId: spec.stemId, runtime, memoryMb: spec.memoryMb, ephemeralStorageMb: spec.ephemeralStorageMb, state: "starting" };
    this.cells.set(cell.stemId, cell);
    this.capacity.hold(cell.stemId, cell.memoryMb);
    const start = this.launch(spec, cell).finally(() => this.starts.delete(start));
    this.starts.add(start);
  }

  private async launch(spec: StemCellSpec, cell: StemCell): Promise<void> {
    try {
      const credentials = await this.users.createStemCell(this.invokerId, spec.stemId);
      const dockerId = await this.backend.startStemCell(spec, credentials);
      if (this.cells.get(spec.stemId) !== cell) {
        // Discarded (or stopped) while Docker started it.
        await this.backend.remove(dockerId);
        return;
      }
      cell.dockerId = dockerId;
      cell.state = "ready";
      this.logger.debug({ stemId: spec.stemId, runtime: spec.runtime }, "stem cell started");
    } catch (err) {
      this.logger.error({ err, runtime: spec.runtime }, "a stem cell failed to start");
      if (this.cells.get(spec.stemId) === cell) this.forget(cell);
      this.refillLater();
    }
  }

  private forget(cell: StemCell): void {
    this.cells.delete(cell.stemId);
    this.capacity.give(cell.stemId);
    this.users.remove(this.invokerId, cell.stemId).catch((err) => this.logger.warn({ err, stemId: cell.stemId }, "removing a stem cell's Redis user failed"));
  }

  private refillLater(): void {
    if (this.stopped || this.retryTimer) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.refill();
    }, REFILL_RETRY_MS);
    this.retryTimer.unref();
  }
}
