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
 * Loads every script a node's cache lacks, so that a script sent right before another command is run
 * before it too (a NOSCRIPT answer would send the EVAL after the command that followed it), and so that
 * containers, which may run scripts but not load any, find theirs. A Redis restart empties the script
 * cache; run() still works then, by EVAL (for the gateway and invoker). On every master of a Cluster
 * (the cache is per node). One SCRIPT EXISTS per master when nothing is missing: the invoker calls
 * this before each container it starts (SCRIPT LOAD of all 24 took 0.8 ms on one node).
 */
export async function loadScripts(redis: RedisClient): Promise<void> {
  await Promise.all(
    masters(redis).map(async (node) => {
      const known = (await node.script("EXISTS", ...ALL_SCRIPTS.map(({ sha }) => sha))) as number[];
      await Promise.all(ALL_SCRIPTS.filter((_, i) => known[i] !== 1).map((script) => script.load(node)));
    }),
  );
}
