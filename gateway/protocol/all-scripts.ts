// Every script, for loading them all at once.

import type { Redis } from "ioredis";
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
 * still works then, by EVAL (for the gateway and invoker).
 */
export async function loadScripts(redis: Redis): Promise<void> {
  await Promise.all(ALL_SCRIPTS.map((script) => script.load(redis)));
}
