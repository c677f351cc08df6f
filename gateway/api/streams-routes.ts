// The admin API of a function's Redis Stream subscriptions: /system/functions/:name/streams.

import express, { Router, type Request } from "express";
import type { RedisClient } from "../redis/connections.js";
import { listSubscriptions, subscribeStream, unsubscribeStream } from "../async/stream-subscriptions.js";
import { HearthError } from "../errors.js";

export function streamsRoutes(redis: RedisClient): Router {
  const router = Router({ mergeParams: true });

  router.get("/", async (req: Request, res) => {
    res.json({ subscriptions: await listSubscriptions(redis, String(req.params.name)) });
  });
  // The body is optional: {"startFrom": "new" | "oldest"}.
  router.put("/:stream", express.json({ limit: "16kb" }), async (req: Request, res) => {
    const { subscription, created } = await subscribeStream(redis, String(req.params.name), String(req.params.stream), req.body);
    res.status(created ? 201 : 200).json(subscription);
  });
  router.delete("/:stream", async (req: Request, res) => {
    const [name, stream] = [String(req.params.name), String(req.params.stream)];
    if (!(await unsubscribeStream(redis, name, stream))) throw new HearthError(404, "SubscriptionNotFound", `function ${name} is not subscribed to stream ${stream}`);
    res.status(204).end();
  });
  return router;
}
