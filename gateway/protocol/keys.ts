// Every key of a function carries the hash tag {name}, so one function's keys share a Redis Cluster
// slot and each Lua script touches a single slot.

export const EVENTS_CHANNEL = "hearth:events";
export const FUNCTIONS_INDEX = "hearth:functions";

export interface FunctionKeys {
  def: string;
  /** Counts deploys; kept when the function is deleted so versions never repeat. */
  versions: string;
  codePrefix: string;
  queue: string;
  containers: string;
  draining: string;
  code(sha256: string): string;
  running(containerId: string): string;
}

export function functionKeys(name: string): FunctionKeys {
  const base = `hearth:{${name}}`;
  return {
    def: `${base}:def`,
    versions: `${base}:versions`,
    codePrefix: `${base}:code:`,
    queue: `${base}:queue`,
    containers: `${base}:containers`,
    draining: `${base}:draining`,
    code: (sha256) => `${base}:code:${sha256}`,
    running: (containerId) => `${base}:running:${containerId}`,
  };
}

/** Exists while the invoker of that id is alive (refreshed with a TTL). */
export function invokerAliveKey(invokerId: string): string {
  return `hearth:invokers:${invokerId}`;
}

/** The list a gateway process reads its results from. */
export function repliesKey(gatewayId: string): string {
  return `hearth:replies:{${gatewayId}}`;
}
