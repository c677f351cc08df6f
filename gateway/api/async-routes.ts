// Async invocation over HTTP: POST /async-function/:name (or POST /function/:name with
// X-Invocation-Type: Event) answers 202 with the invocation id; /invocations/:id reads or cancels it.

import { Router, type Request, type Response } from "express";
import { invocationNotFound, type AsyncInvocations } from "../async/async-invocations.js";
import { jsonEvent } from "../invocation/http-events.js";
import { bodyOf, readBody, readIntegration } from "./request-body.js";

export function asyncInvokeRoutes(invocations: AsyncInvocations, maxPayloadBytes: number): Router {
  const router = Router();
  router.post("/:name", readBody(maxPayloadBytes), (req, res) => acceptAsync(invocations, req, res));
  return router;
}

/** Accepts the request as an async invocation: 202 once it is in Redis, with its id. */
export async function acceptAsync(invocations: AsyncInvocations, req: Request, res: Response): Promise<void> {
  const integration = readIntegration(req);
  const body = bodyOf(req);
  const { id, duplicate } = await invocations.accept(String(req.params.name), integration === "raw" ? body : jsonEvent(body), {
    caller: callerOf(res),
    integration,
    idempotencyKey: req.get("Idempotency-Key"),
    callbackUrl: req.get("X-Callback-Url"),
  });
  const location = `/invocations/${id}`;
  res.setHeader("X-Call-Id", id);
  if (duplicate) res.setHeader("Idempotent-Replayed", "true");
  res.status(202).location(location).json({ id, location });
}

/** The caller an Idempotency-Key belongs to: the API key the auth middleware found, or anonymous. */
function callerOf(res: Response): string {
  const keyId: unknown = res.locals.callerKeyId;
  return typeof keyId === "string" ? `key:${keyId}` : "anonymous";
}

export function invocationRoutes(invocations: AsyncInvocations): Router {
  const router = Router();
  router.get("/:id", async (req, res) => {
    const view = await invocations.get(req.params.id);
    if (!view) throw invocationNotFound(req.params.id);
    res.json(view);
  });
  router.delete("/:id", async (req, res) => {
    res.json(await invocations.cancel(req.params.id));
  });
  return router;
}
