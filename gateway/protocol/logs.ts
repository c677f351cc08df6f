// A function's log lines and invocation history as kept in Redis: written by its containers' adapters,
// read by the API. Lines are entries of the Redis Stream `hearth:{f}:logs` with short field names
// (t: time in ms, i: invocation id or "", s: stream, m: message); history entries are JSON in the
// list `hearth:{f}:history`, newest first.

export type LogStream = "stdout" | "stderr" | "platform";

export interface LogLine {
  /** ISO 8601. */
  time: string;
  invocation: string | null;
  stream: LogStream;
  message: string;
}

/** The bounds of what is kept (settings HEARTH_LOG_*, HEARTH_INVOCATION_HISTORY_SIZE). */
export interface LogLimits {
  /** Lines kept per function (the stream's MAXLEN, approximate). */
  maxLines: number;
  /** Lines older than this are trimmed (the stream's MINID) whenever lines are written. */
  retentionMs: number;
  /** Lines kept of one invocation (and of one runtime's init); the rest is cut, with a marker line. */
  maxLinesPerInvocation: number;
  /** Longer lines are cut to this many characters. */
  maxLineLength: number;
  /** Invocations kept in the history per function. */
  historySize: number;
}

export interface HistoryEntry {
  id: string;
  type: "sync" | "async";
  status: "succeeded" | "failed" | "timeout";
  statusCode: number;
  startedAt: string;
  finishedAt: string;
  durationMs: number;
  cold: boolean;
}

/** The fields of a stream entry for `line` (time in ms). */
export function lineFields(time: number, invocation: string | null, stream: LogStream, message: string): string[] {
  return ["t", String(time), "i", invocation ?? "", "s", stream, "m", message];
}

/** A stream entry ([id, [field, value, …]]) as a line. */
export function lineOfEntry([id, fields]: [string, string[]]): LogLine {
  const value: Record<string, string> = {};
  for (let index = 0; index + 1 < fields.length; index += 2) value[fields[index]!] = fields[index + 1]!;
  const time = Number(value.t ?? id.split("-")[0]);
  const stream = value.s === "stderr" || value.s === "platform" ? value.s : "stdout";
  return { time: new Date(time).toISOString(), invocation: value.i || null, stream, message: value.m ?? "" };
}

/** The status of a history entry from an invocation's HTTP status. */
export function historyStatus(statusCode: number): HistoryEntry["status"] {
  if (statusCode === 504) return "timeout";
  return statusCode >= 200 && statusCode < 300 ? "succeeded" : "failed";
}
