// The body of a function's error, as its caller gets it.

import { errorBody } from "../protocol/envelope.js";

/** Every runtime's error in one shape: {errorMessage, errorType, stackTrace} (Node's `trace` included). */
export function functionErrorBody(body: Buffer, fallbackType: string): string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString("utf8"));
  } catch {
    return errorBody(fallbackType, body.toString("utf8"));
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) return errorBody(fallbackType, JSON.stringify(parsed));
  const error = parsed as Record<string, unknown>;
  return JSON.stringify({
    ...error,
    errorMessage: typeof error.errorMessage === "string" ? error.errorMessage : "",
    errorType: typeof error.errorType === "string" ? error.errorType : fallbackType,
    stackTrace: error.stackTrace ?? error.trace ?? [],
  });
}
