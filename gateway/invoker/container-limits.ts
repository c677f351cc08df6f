// What one function container may use of its host: memory, processes, a writable /tmp of its own
// size, and a bounded log. The root filesystem is read-only, so nothing a function writes reaches the
// host's disk; the one writable place is /tmp, a tmpfs, whose pages count against the memory limit.

import type Docker from "dockerode";

/** Processes and threads of a container: a fork bomb stops here (every Node thread counts too). */
export const CONTAINER_PIDS_LIMIT = 1024;
/** A container's log on the host (Docker's json-file): two files of 5 MB, the older one dropped. */
export const CONTAINER_LOG_MAX_FILE_BYTES = 5 * 1024 * 1024;
export const CONTAINER_LOG_FILES = 2;

export interface ContainerResources {
  memoryMb: number;
  ephemeralStorageMb: number;
}

export function containerLimits({ memoryMb, ephemeralStorageMb }: ContainerResources): Docker.HostConfig {
  const memoryBytes = memoryMb * 1024 * 1024;
  return {
    Memory: memoryBytes,
    MemorySwap: memoryBytes, // no swap beyond the limit
    PidsLimit: CONTAINER_PIDS_LIMIT,
    ReadonlyRootfs: true,
    // exec: as on Lambda, a function may run binaries it ships or writes to /tmp.
    Tmpfs: {
      "/tmp": `rw,exec,nosuid,nodev,size=${ephemeralStorageMb}m,mode=1777`,
    },
    LogConfig: {
      Type: "json-file",
      Config: { "max-size": String(CONTAINER_LOG_MAX_FILE_BYTES), "max-file": String(CONTAINER_LOG_FILES) },
    },
  };
}
