// The admin API of API keys: /system/keys. The secret is in the creation answer only.

import express, { Router } from "express";
import type { RedisClient } from "../redis/connections.js";
import type { Authenticator } from "../auth/authenticator.js";
import { createKey, listKeys, revokeKey } from "../auth/keys.js";
import { HearthError } from "../errors.js";

export function keysRoutes(redis: RedisClient, authenticator: Authenticator): Router {
  const router = Router();

  router.post("/", express.json({ limit: "64kb" }), async (req, res) => {
    if (!req.is("application/json")) throw new HearthError(415, "UnsupportedMediaType", 'send application/json: {"name", "scopes", "functions"}');
    res.status(201).json(await createKey(redis, req.body));
  });

  router.get("/", async (_req, res) => {
    res.json({ keys: await listKeys(redis) });
  });

  router.delete("/:id", async (req, res) => {
    if (!(await revokeKey(redis, req.params.id))) throw new HearthError(404, "KeyNotFound", `no API key ${req.params.id}`);
    // This gateway forgets it before answering; the others on the key-revoked event.
    authenticator.forgetAll();
    res.status(204).end();
  });

  return router;
}
