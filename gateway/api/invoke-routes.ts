// HTTP triggers. The formats themselves live in invocation/http-events.ts; these handlers only move
// bytes between express and Invocations.

import { Router, type RequestHandler, type Response } from "express";
import type { AsyncInvocations } from "../async/async-invocations.js";
import { HearthError } from "../errors.js";
import { jsonEvent, proxyEvent, proxyResponse, rawResponse } from "../invocation/http-events.js";
import type { InvocationResult, Invocations } from "../invocation/invocations.js";
import { acceptAsync } from "./async-routes.js";
import { bodyOf, readBody, readIntegration } from "./request-body.js";

/**
 * POST /function/:name: the JSON body is the event; with ?integration=raw the body goes as it is.
 * X-Invocation-Type: Event makes it async (as POST /async-function/:name), as in Lambda's Invoke.
 */
export function invokeRoutes(invocations: Invocations, asyncInvocations: AsyncInvocations, maxPayloadBytes: number, authorize: RequestHandler): Router {
  const router = Router();
  router.post("/:name", authorize, readBody(maxPayloadBytes), async (req, res) => {
    const invocationType = req.get("X-Invocation-Type") ?? "RequestResponse";
    if (invocationType === "Event") return acceptAsync(asyncInvocations, req, res);
    if (invocationType !== "RequestResponse") {
      throw new HearthError(400, "InvalidInvocationType", `X-Invocation-Type must be RequestResponse or Event, got ${JSON.stringify(invocationType)}`);
    }
    const integration = readIntegration(req);
    const body = bodyOf(req);
    const result = await invocations.invokeSync(String(req.params.name), integration === "raw" ? body : jsonEvent(body));
    if (integration === "raw" && result.status === 200) {
      const raw = rawResponse(result.body);
      return sendResult(res, result, raw.contentType, raw.body);
    }
    sendResult(res, result, "application/json", result.body);
  });
  return router;
}

/** Any method on /http/:name and every path under it: an HTTP-proxy event; the result is the response. */
export function proxyRoutes(invocations: Invocations, maxPayloadBytes: number, authorize: RequestHandler): Router {
  const router = Router();
  router.all("/:name{/*path}", authorize, readBody(maxPayloadBytes), async (req, res) => {
    const name = String(req.params.name);
    const [path = "", query = ""] = splitOnce(req.url, "?");
    const event = proxyEvent({
      method: req.method,
      path: path.slice(1 + name.length) || "/",
      query,
      headers: req.headers,
      body: bodyOf(req),
      sourceIp: req.socket.remoteAddress ?? "",
    });
    const result = await invocations.invokeSync(name, event);
    if (result.status !== 200) return sendResult(res, result, "application/json", result.body);
    const response = proxyResponse(result.body);
    res.setHeader("X-Call-Id", result.id);
    res.status(response.status).set(response.headers);
    if (response.cookies.length > 0) res.append("Set-Cookie", response.cookies);
    res.end(response.body);
  });
  return router;
}

function sendResult(res: Response, result: InvocationResult, contentType: string, body: Buffer): void {
  res.setHeader("X-Call-Id", result.id);
  if (result.functionError) {
    // Hearth's header, and Lambda's and Function Compute's, so that their clients see the failure too.
    const errorType = errorTypeOf(body);
    res.setHeader("X-Function-Error", "true");
    res.setHeader("X-Amz-Function-Error", errorType);
    res.setHeader("X-Fc-Error-Type", errorType);
  }
  res.status(result.status).type(contentType).send(body);
}

/** The error body's `errorType` when it can be a header value; else "Unhandled", as Lambda says. */
function errorTypeOf(body: Buffer): string {
  try {
    const { errorType } = JSON.parse(body.toString("utf8")) as { errorType?: unknown };
    if (typeof errorType === "string" && /^[\x20-\x7e]{1,200}$/.test(errorType)) return errorType;
  } catch {
    // The adapter sends JSON; anything else has no type to tell.
  }
  return "Unhandled";
}

function splitOnce(text: string, separator: string): [string, string] {
  const index = text.indexOf(separator);
  return index < 0 ? [text, ""] : [text.slice(0, index), text.slice(index + 1)];
}
