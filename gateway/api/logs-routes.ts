// Function logs and invocation history: /system/functions/:name/logs (and following it as NDJSON),
// /system/functions/:name/invocations, /invocations/:id/logs.

import { Router, type Request, type RequestHandler } from "express";
import type { RedisClient } from "../redis/connections.js";
import { z } from "zod";
import { invocationNotFound } from "../async/async-invocations.js";
import { HearthError } from "../errors.js";
import { readHistory, readInvocationLogs, readLogs, type LogFollowers } from "../logs/function-logs.js";
import { functionKeys, functionOfInvocation } from "../protocol/keys.js";
import type { LogLine } from "../protocol/logs.js";

/** A follower's connection is ended by the server after this long (its client may reconnect with `since`). */
const MAX_FOLLOW_MS = 15 * 60 * 1000;
const NDJSON = "application/x-ndjson";

/** An ISO 8601 time or epoch milliseconds, as epoch milliseconds. */
const time = z.string().transform((value, context) => {
  const ms = /^\d+$/.test(value) ? Number(value) : Date.parse(value);
  if (!Number.isSafeInteger(ms) || ms < 0) {
    context.addIssue({ code: "custom", message: "is an ISO 8601 time or epoch milliseconds" });
    return z.NEVER;
  }
  return ms;
});

const logsQuery = z.object({
  since: time.optional(),
  until: time.optional(),
  invocation: z.string().max(200).optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  follow: z.enum(["true", "false"]).optional(),
});

const limitQuery = (fallback: number) => z.object({ limit: z.coerce.number().int().min(1).max(1000).default(fallback) });

export function functionLogsRoutes(redis: RedisClient, followers: LogFollowers): Router {
  const router = Router();

  router.get("/:name/logs", async (req, res) => {
    const name = await existingFunction(redis, req);
    const query = parse(logsQuery, req.query);
    const follow = query.follow === "true" || (query.follow === undefined && (req.headers.accept ?? "").includes(NDJSON));
    if (!follow) {
      res.json({ lines: (await readLogs(redis, name, query)).lines });
      return;
    }
    const release = followers.reserve();
    const abort = new AbortController();
    res.on("close", () => abort.abort());
    try {
      // The lines so far (up to now, whatever `until` says), then the new ones as they come.
      const page = await readLogs(redis, name, { ...query, until: undefined });
      res.status(200).type(NDJSON).setHeader("Cache-Control", "no-store");
      res.flushHeaders();
      const send = (lines: LogLine[]): void => void res.write(lines.map((line) => `${JSON.stringify(line)}\n`).join(""));
      if (page.lines.length > 0) send(page.lines);
      await followers.follow(name, page.cursor, query.invocation, abort.signal, MAX_FOLLOW_MS, send);
      res.end();
    } finally {
      release();
    }
  });

  router.get("/:name/invocations", async (req, res) => {
    const name = await existingFunction(redis, req);
    const { limit } = parse(limitQuery(50), req.query);
    res.json({ invocations: await readHistory(redis, name, limit) });
  });

  return router;
}

export function invocationLogsRoutes(redis: RedisClient, authorize: RequestHandler): Router {
  const router = Router();
  router.get("/:id/logs", authorize, async (req, res) => {
    const id = String(req.params.id);
    const { limit } = parse(limitQuery(100), req.query);
    const fn = functionOfInvocation(id);
    const lines = fn === undefined ? undefined : await readInvocationLogs(redis, fn, id, limit);
    if (!lines) throw invocationNotFound(id);
    res.json({ lines });
  });
  return router;
}

async function existingFunction(redis: RedisClient, req: Request): Promise<string> {
  const name = String(req.params.name);
  if ((await redis.exists(functionKeys(name).def)) === 0) throw new HearthError(404, "FunctionNotFound", `function ${name} does not exist`);
  return name;
}

function parse<T extends z.ZodTypeAny>(schema: T, query: unknown): z.output<T> {
  const parsed = schema.safeParse(query);
  if (!parsed.success) {
    throw new HearthError(400, "InvalidQuery", parsed.error.issues.map((issue) => `${issue.path.join(".")} ${issue.message}`).join("; "));
  }
  return parsed.data;
}
