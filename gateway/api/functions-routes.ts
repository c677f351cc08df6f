import { Router } from "express";
import type { RedisClient } from "../redis/connections.js";
import type { Quotas } from "../config.js";
import { HearthError } from "../errors.js";
import type { FunctionConfig, FunctionDefinition } from "../functions/definition.js";
import type { GoBuilder } from "../functions/runtime-packages.js";
import { deleteFunction, deployFunction, getFunction, listFunctions, readPoolStatus } from "../functions/registry.js";
import { jsonConfigBody, readDeployRequest } from "./deploy-request.js";

/** The admin API: /system/functions. */
export function functionsRoutes(redis: RedisClient, quotas: Quotas, maxCodeBytes: number, buildGo: GoBuilder, invocationRetentionMs: number, containerNetworks: string[]): Router {
  const router = Router();

  router.get("/", async (_req, res) => {
    res.json({ functions: (await listFunctions(redis)).map(describe) });
  });

  router.get("/:name", async (req, res) => {
    const definition = await getFunction(redis, req.params.name);
    if (!definition) throw notFound(req.params.name);
    res.json({ ...describe(definition), ...(await readPoolStatus(redis, definition.name)) });
  });

  router.put("/:name", jsonConfigBody, async (req, res) => {
    const { config, code } = await readDeployRequest(req, maxCodeBytes);
    checkNetwork(config, containerNetworks);
    const { definition, created } = await deployFunction(redis, quotas, req.params.name, config, code, buildGo);
    res.status(created ? 201 : 200).json(describe(definition));
  });

  // Changes the settings named in the body; the others keep their values (PUT replaces them all).
  router.patch("/:name", jsonConfigBody, async (req, res) => {
    if (!(req.headers["content-type"] ?? "").startsWith("application/json")) throw new HearthError(415, "UnsupportedMediaType", "send application/json: the settings to change");
    const changes: unknown = req.body;
    if (typeof changes !== "object" || changes === null || Array.isArray(changes)) throw new HearthError(400, "InvalidFunctionConfig", "the body is a JSON object of the settings to change");
    const existing = await getFunction(redis, req.params.name);
    if (!existing) throw notFound(req.params.name);
    const config = { ...settingsOf(existing), ...changes };
    checkNetwork(config, containerNetworks);
    const { definition } = await deployFunction(redis, quotas, req.params.name, config, undefined, buildGo);
    res.json({ ...describe(definition), ...(await readPoolStatus(redis, definition.name)) });
  });

  router.delete("/:name", async (req, res) => {
    if (!(await deleteFunction(redis, req.params.name, invocationRetentionMs))) throw notFound(req.params.name);
    res.status(204).end();
  });

  return router;
}

/** The settings a function was deployed with, as a deploy's config: all but what the deploy itself records. */
function settingsOf(definition: FunctionDefinition): FunctionConfig {
  const { name: _name, version: _version, codeSha256: _codeSha256, codeSize: _codeSize, createdAt: _createdAt, updatedAt: _updatedAt, ...settings } = definition;
  return settings;
}

/** A function joins a Docker network only if the operator allows it (the invoker checks again at every start). */
function checkNetwork(config: unknown, allowed: string[]): void {
  const network = (config as { network?: unknown } | undefined)?.network;
  if (typeof network === "string" && network !== "none" && !allowed.includes(network)) {
    throw new HearthError(400, "NetworkNotAllowed", `network ${network} is not one this Hearth allows functions to join (HEARTH_CONTAINER_NETWORKS: ${allowed.join(",") || "none"})`);
  }
}

function notFound(name: string): HearthError {
  return new HearthError(404, "FunctionNotFound", `function ${name} does not exist`);
}

/** Environment values are write-only (they hold secrets): an answer names the variables, never their values. */
function describe(definition: FunctionDefinition): object {
  return {
    ...definition,
    environment: Object.keys(definition.environment),
    createdAt: new Date(definition.createdAt).toISOString(),
    updatedAt: new Date(definition.updatedAt).toISOString(),
  };
}
