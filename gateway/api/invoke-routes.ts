import express, { Router } from "express";
import { HearthError } from "../errors.js";
import type { Invocations } from "../invocation/invocations.js";

/** Sync HTTP trigger: POST /function/:name, the JSON body is the event, the result the response. */
export function invokeRoutes(invocations: Invocations, maxPayloadBytes: number): Router {
  const router = Router();
  router.post("/:name", express.raw({ type: () => true, limit: maxPayloadBytes }), async (req, res) => {
    const result = await invocations.invokeSync(req.params.name, jsonEvent(req.body as Buffer | undefined));
    if (result.functionError) res.setHeader("X-Function-Error", "true");
    res.status(result.status).type("application/json").send(result.body);
  });
  return router;
}

/** The request body, checked to be JSON; an empty body is the empty event {}. */
function jsonEvent(body: Buffer | undefined): Buffer {
  if (!body || body.length === 0) return Buffer.from("{}");
  try {
    JSON.parse(body.toString("utf8"));
  } catch (error) {
    throw new HearthError(400, "InvalidRequestContent", `request body is not valid JSON: ${(error as Error).message}`);
  }
  return body;
}
