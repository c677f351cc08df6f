// A stem cell is a container started before any function needs it: its adapter is up and connected
// to Redis as a user that may only wait on the cell's own stem key. The invoker specializes it by
// pushing one hand-over there: which function it now is, and the Redis user it serves that function as.

/** The list a stem cell waits on (BLPOP), the only key its Redis user may touch. */
export function stemKey(stemId: string): string {
  return `hearth:stem:${stemId}`;
}

/** What the invoker hands a stem cell: what a normally started container reads from its environment. */
export interface Specialization {
  function: string;
  version: number;
  codeSha: string;
  /** The container id its function's records know it by (reserve-container's), not the stem cell's own. */
  containerId: string;
  /** When its specialization began: the cold start's `createdAt`. */
  createdAt: number;
  username: string;
  password: string;
}

export function encodeSpecialization(specialization: Specialization): string {
  return JSON.stringify(specialization);
}

/** Only the invoker writes a stem key; a malformed hand-over is a bug, so this throws. */
export function decodeSpecialization(raw: string): Specialization {
  const value = JSON.parse(raw) as Partial<Specialization>;
  const { function: fn, version, codeSha, containerId, createdAt, username, password } = value;
  if (typeof fn !== "string" || !Number.isSafeInteger(version) || typeof codeSha !== "string" || typeof containerId !== "string" || !Number.isSafeInteger(createdAt) || typeof username !== "string" || typeof password !== "string") {
    throw new Error("malformed stem cell hand-over");
  }
  return { function: fn, version: version!, codeSha, containerId, createdAt: createdAt!, username, password };
}
