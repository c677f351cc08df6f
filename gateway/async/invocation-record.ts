// An async invocation's record as GET /invocations/:id shows it, from the hash the scripts keep.

export const INVOCATION_STATUSES = ["queued", "running", "succeeded", "failed", "dead-lettered", "cancelled"] as const;
export type InvocationStatus = (typeof INVOCATION_STATUSES)[number];

export interface InvocationView {
  id: string;
  function: string;
  status: InvocationStatus;
  /** Times a container took it (or tried to): executions, crashes included. */
  attempts: number;
  queuedAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  /** While it waits for a retry. */
  nextAttemptAt?: string;
  /** HTTP status of the last attempt's result. */
  statusCode?: number;
  /** The handler's result (succeeded), as JSON when it is JSON. */
  result?: unknown;
  /** A result that is not JSON, base64-encoded. */
  resultBase64?: string;
  /** The last attempt's error: {errorMessage, errorType, stackTrace}. */
  error?: unknown;
  callback?: { url: string; status: string; attempts: number; lastError?: string; at: string | null };
  /** The Redis Stream entry that triggered it. */
  source?: { stream: string; entry: string };
  idempotencyKey?: string;
}

/** The view of a record hash (bulk values as Buffers: results are bytes); undefined for none. */
export function invocationView(hash: Record<string, Buffer>): InvocationView | undefined {
  const text = (field: string): string | undefined => hash[field]?.toString("utf8");
  const time = (field: string): string | null => (hash[field] ? new Date(Number(text(field))).toISOString() : null);
  const id = text("id");
  if (!id || !text("status")) return undefined;
  const view: InvocationView = {
    id,
    function: text("function") ?? "",
    status: text("status") as InvocationStatus,
    attempts: Number(text("attempts") ?? 0),
    queuedAt: time("queuedAt")!,
    startedAt: time("startedAt"),
    finishedAt: time("finishedAt"),
  };
  if (hash.nextAttemptAt) view.nextAttemptAt = time("nextAttemptAt")!;
  if (hash.statusCode) view.statusCode = Number(text("statusCode"));
  if (hash.result) {
    const parsed = parseJson(hash.result);
    if (text("functionError") === "1") view.error = parsed.ok ? parsed.value : text("result");
    else if (parsed.ok) view.result = parsed.value;
    else view.resultBase64 = hash.result.toString("base64");
  }
  const callbackUrl = text("callbackUrl");
  if (callbackUrl) {
    view.callback = {
      url: callbackUrl,
      status: text("callbackStatus") ?? "waiting",
      attempts: Number(text("callbackAttempts") ?? 0),
      ...(hash.callbackError ? { lastError: text("callbackError") } : {}),
      at: time("callbackAt"),
    };
  }
  const source = text("source");
  if (source) {
    const { stream, entry } = JSON.parse(source) as { stream: string; entry: string };
    view.source = { stream, entry };
  }
  const idempotencyKey = text("idempotencyKey");
  if (idempotencyKey) view.idempotencyKey = idempotencyKey;
  return view;
}

function parseJson(bytes: Buffer): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(bytes.toString("utf8")) };
  } catch {
    return { ok: false };
  }
}
