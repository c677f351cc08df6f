// The admin API of a function's dead-letter queue: /system/functions/:name/dead-letters.

import express, { Router, type Request } from "express";
import { z } from "zod";
import { listDeadLetters, purgeDeadLetters, redriveDeadLetters } from "../async/dead-letters.js";
import { HearthError } from "../errors.js";
import type { FunctionCache } from "../functions/function-cache.js";
import { functionNotFound } from "../invocation/queue-outcome.js";
import type { RedisClient } from "../redis/connections.js";

const pageQuery = z.object({
  offset: z.coerce.number().int().min(0).default(0),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
});

export function deadLettersRoutes(redis: RedisClient, functions: FunctionCache): Router {
  const router = Router({ mergeParams: true });
  const functionOf = async (req: Request): Promise<string> => {
    const name = String(req.params.name);
    if (!(await functions.get(name))) throw functionNotFound(name);
    return name;
  };

  router.get("/", async (req, res) => {
    const page = pageQuery.safeParse(req.query);
    if (!page.success) throw new HearthError(400, "InvalidQuery", "offset is an integer ≥ 0, limit an integer from 1 to 1000");
    res.json(await listDeadLetters(redis, await functionOf(req), page.data.offset, page.data.limit));
  });
  // Every dead letter, or those named in {"ids": [...]}.
  router.post("/redrive", express.json({ limit: "1mb" }), async (req, res) => {
    res.json({ redriven: await redriveDeadLetters(redis, await functionOf(req), idsOf(req.body)) });
  });
  router.post("/:id/redrive", async (req, res) => {
    const redriven = await redriveDeadLetters(redis, await functionOf(req), [req.params.id]);
    if (redriven.length === 0) throw deadLetterNotFound(req.params.id);
    res.json({ redriven });
  });
  router.delete("/", async (req, res) => {
    res.json({ purged: await purgeDeadLetters(redis, await functionOf(req)) });
  });
  router.delete("/:id", async (req, res) => {
    const purged = await purgeDeadLetters(redis, await functionOf(req), [req.params.id]);
    if (purged.length === 0) throw deadLetterNotFound(req.params.id);
    res.json({ purged });
  });
  return router;
}

function idsOf(body: unknown): string[] {
  if (body === undefined || (typeof body === "object" && body !== null && !("ids" in body))) return [];
  const parsed = z.object({ ids: z.array(z.string().min(1)).max(10_000) }).safeParse(body);
  if (!parsed.success) throw new HearthError(400, "InvalidRequestContent", 'the body is {"ids": [invocation ids]}, or empty for all');
  return parsed.data.ids;
}

function deadLetterNotFound(id: string): HearthError {
  return new HearthError(404, "DeadLetterNotFound", `invocation ${id} is not in this function's dead-letter queue`);
}
