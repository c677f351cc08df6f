// What one function container may use of its host: memory, processes, a writable /tmp of its own
// size, and a bounded log. The root filesystem is read-only, so nothing a function writes reaches the
// host's disk; the two writable places are tmpfs mounts, whose pages count against the memory limit.

import type Docker from "dockerode";
import { PACKAGE_LIMITS } from "../functions/package-inspection.js";

/** Processes and threads of a container: a fork bomb stops here (every Node thread counts too). */
export const CONTAINER_PIDS_LIMIT = 1024;
/** A container's log on the host (Docker's json-file): two files of 5 MB, the older one dropped. */
export const CONTAINER_LOG_MAX_FILE_BYTES = 5 * 1024 * 1024;
export const CONTAINER_LOG_FILES = 2;

/** Where the adapter unpacks the function's code: as large as the largest package may unpack to. */
const TASK_ROOT = "/var/task";

export interface ContainerResources {
  memoryMb: number;
  ephemeralStorageMb: number;
}

export function containerLimits({ memoryMb, ephemeralStorageMb }: ContainerResources): Docker.HostConfig {
  const memoryBytes = memoryMb * 1024 * 1024;
  const taskRootMb = Math.ceil(PACKAGE_LIMITS.unpackedBytes / 1024 / 1024) + 1;
  return {
    Memory: memoryBytes,
    MemorySwap: memoryBytes, // no swap beyond the limit
    PidsLimit: CONTAINER_PIDS_LIMIT,
    ReadonlyRootfs: true,
    // exec: as on Lambda, a function may run binaries it ships or writes to /tmp.
    Tmpfs: {
      "/tmp": `rw,exec,nosuid,nodev,size=${ephemeralStorageMb}m,mode=1777`,
      [TASK_ROOT]: `rw,exec,nosuid,nodev,size=${taskRootMb}m,mode=0755,uid=0,gid=0`,
    },
    LogConfig: {
      Type: "json-file",
      Config: { "max-size": String(CONTAINER_LOG_MAX_FILE_BYTES), "max-file": String(CONTAINER_LOG_FILES) },
    },
  };
}
