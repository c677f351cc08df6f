// Async invocation over HTTP: POST /async-function/:name (or POST /function/:name with
// X-Invocation-Type: Event) answers 202 with the invocation id; /invocations/:id reads or cancels it.

import { Router, type Request, type RequestHandler, type Response } from "express";
import { invocationNotFound, type AsyncInvocations } from "../async/async-invocations.js";
import { jsonEvent } from "../invocation/http-events.js";
import { bodyOf, readBody, readIntegration } from "./request-body.js";

/** `authorize` runs before the body is read: a caller without the right key never makes Hearth buffer a payload. */
export function asyncInvokeRoutes(invocations: AsyncInvocations, maxPayloadBytes: number, authorize: RequestHandler): Router {
  const router = Router();
  router.post("/:name", authorize, readBody(maxPayloadBytes), (req, res) => acceptAsync(invocations, req, res));
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

export function invocationRoutes(invocations: AsyncInvocations, authorize: RequestHandler): Router {
  const router = Router();
  router.get("/:id", authorize, async (req, res) => {
    const id = String(req.params.id);
    const view = await invocations.get(id);
    if (!view) throw invocationNotFound(id);
    res.json(view);
  });
  router.delete("/:id", authorize, async (req, res) => {
    res.json(await invocations.cancel(String(req.params.id)));
  });
  return router;
}
