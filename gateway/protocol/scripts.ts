// Every multi-key change to Redis is one Lua script in ./lua, named for what it does.

import { createHash } from "node:crypto";
import type { ChainableCommander, Redis } from "ioredis";
import pool from "./lua/includes/pool.lua";
import async from "./lua/includes/async.lua";
import deployFunction from "./lua/deploy-function.lua";
import deleteFunction from "./lua/delete-function.lua";
import enqueueInvocation from "./lua/enqueue-invocation.lua";
import reserveContainer from "./lua/reserve-container.lua";
import registerContainer from "./lua/register-container.lua";
import startInvocation from "./lua/start-invocation.lua";
import finishInvocation from "./lua/finish-invocation.lua";
import retireContainer from "./lua/retire-container.lua";
import requeueInvocation from "./lua/requeue-invocation.lua";
import releaseContainer from "./lua/release-container.lua";
import markDraining from "./lua/mark-draining.lua";
import enqueueAsyncInvocation from "./lua/enqueue-async-invocation.lua";
import settleAsyncInvocation from "./lua/settle-async-invocation.lua";
import promoteDueRetries from "./lua/promote-due-retries.lua";
import cancelInvocation from "./lua/cancel-invocation.lua";
import redriveDeadLetters from "./lua/redrive-dead-letters.lua";
import purgeDeadLetters from "./lua/purge-dead-letters.lua";
import claimDueCallbacks from "./lua/claim-due-callbacks.lua";
import settleCallback from "./lua/settle-callback.lua";
import subscribeStream from "./lua/subscribe-stream.lua";
import unsubscribeStream from "./lua/unsubscribe-stream.lua";
import restoreStreamGroup from "./lua/restore-stream-group.lua";
import createApiKey from "./lua/create-api-key.lua";
import revokeApiKey from "./lua/revoke-api-key.lua";

const includes: Record<string, string> = { pool, async };

type Arg = string | number | Buffer;

/**
 * ioredis makes a Buffer-reply variant of every command, but its typings omit these two; callBuffer
 * is no way round, as it loses its command name under auto-pipelining.
 */
interface BufferScripting {
  evalshaBuffer(...args: Arg[]): Promise<unknown>;
  evalBuffer(...args: Arg[]): Promise<unknown>;
}

export class LuaScript {
  readonly source: string;
  readonly sha: string;

  constructor(source: string) {
    this.source = source.replace(/^--@include (\w+)$/gm, (_, name: string) => {
      const included = includes[name];
      if (included === undefined) throw new Error(`unknown Lua include ${name}`);
      return included;
    });
    this.sha = createHash("sha1").update(this.source).digest("hex");
  }

  /** SCRIPT LOAD: after it, run() sends EVALSHA and never waits for a NOSCRIPT answer. */
  async load(redis: Redis): Promise<void> {
    await redis.script("LOAD", this.source);
  }

  /** EVALSHA, loading the script with EVAL the first time a server has not seen it. */
  async run(redis: Redis, keys: string[], args: Arg[]): Promise<unknown> {
    try {
      return await redis.evalsha(this.sha, keys.length, ...keys, ...args);
    } catch (error) {
      if (!isNoScript(error)) throw error;
      return redis.eval(this.source, keys.length, ...keys, ...args);
    }
  }

  /** Adds an EVALSHA to a pipeline, to go out in one write with what else it holds (scripts are loaded at start). */
  queue(pipeline: ChainableCommander, keys: string[], args: Arg[]): ChainableCommander {
    return pipeline.evalsha(this.sha, keys.length, ...keys, ...args);
  }

  /** As run, with bulk replies as Buffers: for scripts that return envelopes, whose payloads are bytes. */
  async runBuffer(redis: Redis, keys: string[], args: Arg[]): Promise<unknown> {
    try {
      return await (redis as unknown as BufferScripting).evalshaBuffer(this.sha, keys.length, ...keys, ...args);
    } catch (error) {
      if (!isNoScript(error)) throw error;
      return (redis as unknown as BufferScripting).evalBuffer(this.source, keys.length, ...keys, ...args);
    }
  }
}

function isNoScript(error: unknown): boolean {
  return error instanceof Error && error.message.startsWith("NOSCRIPT");
}

export const scripts = {
  deployFunction: new LuaScript(deployFunction),
  deleteFunction: new LuaScript(deleteFunction),
  enqueueInvocation: new LuaScript(enqueueInvocation),
  reserveContainer: new LuaScript(reserveContainer),
  registerContainer: new LuaScript(registerContainer),
  startInvocation: new LuaScript(startInvocation),
  finishInvocation: new LuaScript(finishInvocation),
  retireContainer: new LuaScript(retireContainer),
  requeueInvocation: new LuaScript(requeueInvocation),
  releaseContainer: new LuaScript(releaseContainer),
  markDraining: new LuaScript(markDraining),
  enqueueAsyncInvocation: new LuaScript(enqueueAsyncInvocation),
  settleAsyncInvocation: new LuaScript(settleAsyncInvocation),
  promoteDueRetries: new LuaScript(promoteDueRetries),
  cancelInvocation: new LuaScript(cancelInvocation),
  redriveDeadLetters: new LuaScript(redriveDeadLetters),
  purgeDeadLetters: new LuaScript(purgeDeadLetters),
  claimDueCallbacks: new LuaScript(claimDueCallbacks),
  settleCallback: new LuaScript(settleCallback),
  subscribeStream: new LuaScript(subscribeStream),
  unsubscribeStream: new LuaScript(unsubscribeStream),
  restoreStreamGroup: new LuaScript(restoreStreamGroup),
  createApiKey: new LuaScript(createApiKey),
  revokeApiKey: new LuaScript(revokeApiKey),
};

/**
 * Loads every script, so that a script sent right before another command is run before it too
 * (a NOSCRIPT answer would send the EVAL after the command that followed it). A Redis restart
 * empties the script cache; run() still works then, by EVAL.
 */
export async function loadScripts(redis: Redis): Promise<void> {
  await Promise.all(Object.values(scripts).map((script) => script.load(redis)));
}
