// Messages on the EVENTS_CHANNEL pub/sub channel. Lua scripts publish them as space-separated words,
// so that a script needs no JSON encoder; the last field of `ready` is JSON and may hold anything.

import type { ColdStartTimings } from "./envelope.js";

export type HearthEvent =
  | { type: "work"; function: string }
  | { type: "deployed"; function: string; version: number }
  | { type: "deleted"; function: string }
  /** Delayed work of the function (a retry, a callback) is due at `at` (epoch ms). */
  | { type: "due"; function: string; at: number }
  /** The function's Redis Stream subscriptions changed. */
  | { type: "streams"; function: string }
  | { type: "ready"; function: string; containerId: string; timings: ColdStartTimings }
  /** An API key was revoked: every gateway drops it from its cache of verified keys. */
  | { type: "key-revoked"; keyId: string };

export function parseEvent(message: string): HearthEvent | undefined {
  const [type, fn, third, ...rest] = message.split(" ");
  if (!fn) return undefined;
  switch (type) {
    case "work":
      return { type, function: fn };
    case "deployed":
      return { type, function: fn, version: Number(third) };
    case "deleted":
      return { type, function: fn };
    case "streams":
      return { type, function: fn };
    case "due":
      return { type, function: fn, at: Number(third) };
    case "key-revoked":
      return { type, keyId: fn };
    case "ready": {
      const timings = third ? parseTimings(rest.join(" ")) : undefined;
      return timings ? { type, function: fn, containerId: third!, timings } : undefined;
    }
    default:
      return undefined;
  }
}

/** A container's cold-start timings, or undefined unless every one is a number (a metric must never get NaN). */
function parseTimings(json: string): ColdStartTimings | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch {
    return undefined;
  }
  const timings = parsed as Record<keyof ColdStartTimings, unknown> | null;
  const fields: Array<keyof ColdStartTimings> = ["createdAt", "processStartedAt", "codeLoadedAt", "runtimeReadyAt"];
  return timings !== null && typeof timings === "object" && fields.every((field) => Number.isFinite(timings[field])) ? (timings as ColdStartTimings) : undefined;
}
