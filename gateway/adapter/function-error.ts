// The body of a function's error, as its caller gets it: what the runtime posted, byte for byte, when
// that is a JSON object (each runtime has its own shape: Node's `trace`, Python's `stackTrace` and
// `requestId`, Go's bare pair); anything else is wrapped in Hearth's {errorMessage, errorType, stackTrace}.

import { errorBody } from "../protocol/envelope.js";

export function functionErrorBody(body: Buffer, fallbackType: string): Buffer | string {
  const parsed = parseObject(body);
  if (parsed) return body;
  const text = body.toString("utf8");
  let message = text;
  try {
    message = JSON.stringify(JSON.parse(text));
  } catch {
    // Not JSON: the text as it is.
  }
  return errorBody(fallbackType, message);
}

/** The error's message for Hearth's log line: its `errorMessage` when it is a string, else the body. */
export function errorMessageOf(body: Buffer | string): string {
  const parsed = parseObject(Buffer.from(body));
  return typeof parsed?.errorMessage === "string" ? parsed.errorMessage : body.toString();
}

/** `body` as a JSON object, or undefined when it is something else. */
export function parseObject(body: Buffer): Record<string, unknown> | undefined {
  try {
    const parsed: unknown = JSON.parse(body.toString("utf8"));
    return typeof parsed === "object" && parsed !== null && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
