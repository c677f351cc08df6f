import type { ErrorRequestHandler, RequestHandler, Response } from "express";
import { HearthError } from "../errors.js";
import type { Logger } from "../logger.js";
import { isRedisUnavailable } from "../redis/connections.js";

export function sendError(res: Response, status: number, errorType: string, errorMessage: string): void {
  res.status(status).json({ errorMessage, errorType });
}

export const notFound: RequestHandler = (req, res) => sendError(res, 404, "NotFound", `no route ${req.method} ${req.path}`);

/** Every error leaves as JSON with its status; nothing of Hearth's own stack reaches a caller. */
export function errorHandler(logger: Logger): ErrorRequestHandler {
  return (error: unknown, _req, res, next) => {
    if (res.headersSent) return next(error);
    if (error instanceof HearthError) return sendError(res.set(error.headers), error.status, error.errorType, error.message);
    const { type, status, limit } = error as { type?: string; status?: number; limit?: number };
    if (type === "entity.too.large") return sendError(res, 413, "RequestTooLarge", `request body exceeds ${limit} bytes`);
    if (type === "entity.parse.failed") return sendError(res, 400, "InvalidRequestContent", "request body is not valid JSON");
    if (typeof status === "number" && status >= 400 && status < 500) return sendError(res, status, "InvalidRequest", (error as Error).message);
    if (isRedisUnavailable(error)) return sendError(res, 503, "Hearth.Unavailable", "Redis cannot be reached just now (a failover or a restart); try again shortly");
    logger.error({ err: error }, "request failed");
    sendError(res, 500, "InternalError", "internal error");
  };
}
