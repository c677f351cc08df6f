// Requests Node's HTTP parser rejects (malformed, headers too large, too slow) never reach express:
// without a handler Node answers some with an empty body or plain text. Here they get the JSON shape
// every other error has, and the connection is closed, as it must be after a request that could not be read.

import { STATUS_CODES, maxHeaderSize } from "node:http";
import type { Duplex } from "node:stream";
import type { Logger } from "../logger.js";

type ParserError = Error & { code?: string; reason?: string };

const ANSWERS: Record<string, { status: number; errorType: string; errorMessage: string }> = {
  HPE_HEADER_OVERFLOW: { status: 431, errorType: "RequestHeaderFieldsTooLarge", errorMessage: `request headers exceed ${maxHeaderSize} bytes` },
  HPE_CHUNK_EXTENSIONS_OVERFLOW: { status: 413, errorType: "RequestTooLarge", errorMessage: "chunk extensions are too large" },
  ERR_HTTP_REQUEST_TIMEOUT: { status: 408, errorType: "RequestTimeout", errorMessage: "the request did not arrive in time" },
};

/** The server's `clientError` listener. */
export function answerClientError(logger: Logger): (error: ParserError, socket: Duplex) => void {
  return (error, socket) => {
    logger.debug({ code: error.code, reason: error.reason }, "malformed HTTP request");
    // Nothing can be said on a connection that is gone, or in the middle of another answer (as Node's own handler).
    if (!socket.writable || error.code === "ECONNRESET") return;
    const inFlight = (socket as { _httpMessage?: { headersSent?: boolean } })._httpMessage;
    if (inFlight?.headersSent) return void socket.destroy();
    const answer = ANSWERS[error.code ?? ""] ?? {
      status: 400,
      errorType: "MalformedRequest",
      errorMessage: `malformed HTTP request: ${error.reason ?? error.code ?? error.message}`,
    };
    const body = JSON.stringify({ errorMessage: answer.errorMessage, errorType: answer.errorType });
    const head = [
      `HTTP/1.1 ${answer.status} ${STATUS_CODES[answer.status]}`,
      "Content-Type: application/json; charset=utf-8",
      `Content-Length: ${Buffer.byteLength(body)}`,
      "Connection: close",
    ];
    socket.end(`${head.join("\r\n")}\r\n\r\n${body}`, () => socket.destroy());
  };
}
