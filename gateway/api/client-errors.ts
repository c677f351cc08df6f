// Requests Node's HTTP server would answer on its own never reach express: malformed ones (rejected by
// its parser, headers too large, too slow), an Expect it cannot meet, a CONNECT. Without handlers Node
// answers them with an empty body or closes the connection without a word. Here they get the JSON
// shape every other error has, and the connection is closed, as it must be after a request that could
// not be read. `createApiServer` wires them up.

import http, { STATUS_CODES, maxHeaderSize, type IncomingMessage, type ServerResponse } from "node:http";
import type { Duplex } from "node:stream";
import type express from "express";
import { sendError } from "./errors.js";
import type { Logger } from "../logger.js";

type ParserError = Error & { code?: string; reason?: string };

const ANSWERS: Record<string, { status: number; errorType: string; errorMessage: string }> = {
  HPE_HEADER_OVERFLOW: { status: 431, errorType: "RequestHeaderFieldsTooLarge", errorMessage: `request headers exceed ${maxHeaderSize} bytes` },
  HPE_CHUNK_EXTENSIONS_OVERFLOW: { status: 413, errorType: "RequestTooLarge", errorMessage: "chunk extensions are too large" },
  ERR_HTTP_REQUEST_TIMEOUT: { status: 408, errorType: "RequestTimeout", errorMessage: "the request did not arrive in time" },
};

/** The server of the API: express behind these answers. */
export function createApiServer(app: express.Express, logger: Logger): http.Server {
  // Node's own Host check answers 400 with an empty body; requireHost answers it as JSON instead.
  const server = http.createServer({ requireHostHeader: false }, app);
  server.on("clientError", answerClientError(logger));
  server.on("checkExpectation", answerExpectationFailed);
  server.on("connect", answerConnect);
  return server;
}

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
    endWithError(socket, answer.status, answer.errorType, answer.errorMessage);
  };
}

/** HTTP/1.1 requests must name their Host (RFC 9112, 3.2): the check Node's server would make, as JSON. */
export const requireHost: express.RequestHandler = (req, res, next) => {
  if (req.httpVersionMajor === 1 && req.httpVersionMinor >= 1 && req.headers.host === undefined) {
    res.set("Connection", "close");
    return sendError(res, 400, "MalformedRequest", "malformed HTTP request: an HTTP/1.1 request needs a Host header");
  }
  next();
};

/** An Expect other than 100-continue: 417, which Node would send with an empty body. */
function answerExpectationFailed(req: IncomingMessage, res: ServerResponse): void {
  res.shouldKeepAlive = false;
  const body = JSON.stringify({ errorMessage: `cannot meet Expect: ${req.headers.expect}`, errorType: "ExpectationFailed" });
  res.writeHead(417, { "Content-Type": "application/json; charset=utf-8", "Content-Length": Buffer.byteLength(body) }).end(body);
}

/** Hearth is no proxy: a CONNECT, which Node would answer by closing the connection, gets 405. */
function answerConnect(_req: IncomingMessage, socket: Duplex): void {
  endWithError(socket, 405, "MethodNotAllowed", "CONNECT is not supported: Hearth is not a proxy");
}

function endWithError(socket: Duplex, status: number, errorType: string, errorMessage: string): void {
  const body = JSON.stringify({ errorMessage, errorType });
  const head = [
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}`,
    "Content-Type: application/json; charset=utf-8",
    `Content-Length: ${Buffer.byteLength(body)}`,
    "Connection: close",
  ];
  socket.end(`${head.join("\r\n")}\r\n\r\n${body}`, () => socket.destroy());
}
