// The value of a container's field in a function's `containers` hash; parsed by pool.lua too.

export type ContainerState = "starting" | "idle" | "busy";

export interface ContainerRecord {
  state: ContainerState;
  version: number;
  invokerId: string;
  /** Redis CLIENT ID of the container's blocking connection, so an invoker can CLIENT UNBLOCK it; 0 while starting. */
  clientId: number;
  since: number;
}

export function formatContainerRecord(record: ContainerRecord): string {
  return [record.state, record.version, record.invokerId, record.clientId, record.since].join("|");
}

export function parseContainerRecord(value: string): ContainerRecord {
  const [state, version, invokerId, clientId, since] = value.split("|");
  return {
    state: state as ContainerState,
    version: Number(version),
    invokerId: invokerId ?? "",
    clientId: Number(clientId),
    since: Number(since),
  };
}
