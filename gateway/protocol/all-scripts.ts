// Every script, for loading them all at once.

import { masters, type RedisClient } from "../redis/connections.js";
import * as apiKeys from "./api-key-scripts.js";
import * as asyncLifecycle from "./async-lifecycle.js";
import * as containerLifecycle from "./container-lifecycle.js";
import * as functions from "./function-scripts.js";
import { LuaScript } from "./scripts.js";
import * as streams from "./stream-scripts.js";

export const ALL_SCRIPTS: LuaScript<never, unknown>[] = [apiKeys, asyncLifecycle, containerLifecycle, functions, streams].flatMap((module) =>
  Object.values(module).filter((value): value is LuaScript<never, unknown> => value instanceof LuaScript),
);

/**
 * Loads every script, so that a script sent right before another command is run before it too
 * (a NOSCRIPT answer would send the EVAL after the command that followed it), and so that containers,
 * which may run scripts but not load any, find theirs. A Redis restart empties the script cache; run()
 * still works then, by EVAL (for the gateway and invoker). On every master of a Cluster (SCRIPT LOAD
 * is per node).
 */
export async function loadScripts(redis: RedisClient): Promise<void> {
  await Promise.all(masters(redis).flatMap((node) => ALL_SCRIPTS.map((script) => script.load(node))));
}
