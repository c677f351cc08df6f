// Reading an invocation's request: the body as bytes, and the ?integration= choice.

import express, { type Request } from "express";
import { HearthError } from "../errors.js";

/** Any content type, as bytes, up to the payload limit (413 past it). */
export function readBody(maxPayloadBytes: number): express.RequestHandler {
  return express.raw({ type: () => true, limit: maxPayloadBytes });
}

export function bodyOf(req: Request): Buffer {
  return Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
}

/** ?integration=raw sends the body to the handler as it is; left out, the body must be JSON. */
export function readIntegration(req: Request): "raw" | "json" {
  const integration = req.query.integration;
  if (integration === undefined) return "json";
  if (integration === "raw") return "raw";
  throw new HearthError(400, "InvalidIntegration", `integration must be "raw" or left out, got ${JSON.stringify(integration)}`);
}
