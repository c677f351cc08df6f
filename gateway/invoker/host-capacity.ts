// What one invoker may start on its Docker host, all functions together: a number of containers and
// their memory limits added up. A container holds its share from its reservation until its exit.

export interface HostLimits {
  maxContainers: number;
  maxMemoryMb: number;
}

export class HostCapacity {
  private readonly held = new Map<string, number>();
  private heldMemoryMb = 0;

  constructor(readonly limits: HostLimits) {}

  get containers(): number {
    return this.held.size;
  }

  get memoryMb(): number {
    return this.heldMemoryMb;
  }

  /** Room for one more container: what the reservation script may claim. */
  free(): { containers: number; memoryMb: number } {
    return { containers: this.limits.maxContainers - this.held.size, memoryMb: this.limits.maxMemoryMb - this.heldMemoryMb };
  }

  /** A container of this size could never start here, however many others exit. */
  neverFits(memoryMb: number): boolean {
    return memoryMb > this.limits.maxMemoryMb;
  }

  hold(containerId: string, memoryMb: number): void {
    if (this.held.has(containerId)) return;
    this.held.set(containerId, memoryMb);
    this.heldMemoryMb += memoryMb;
  }

  /** Returns whether the container held anything. */
  give(containerId: string): boolean {
    const memoryMb = this.held.get(containerId);
    if (memoryMb === undefined) return false;
    this.held.delete(containerId);
    this.heldMemoryMb -= memoryMb;
    return true;
  }
}
