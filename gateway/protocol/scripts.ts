// Every multi-key change to Redis is one Lua script in ./lua, named for what it does. Each has one
// typed binding (defineScript): what it is called with, the KEYS and ARGV built from that beside it, in
// the order the script names them at its top, and its reply decoded.

import { createHash } from "node:crypto";
import type { ChainableCommander, Redis } from "ioredis";
import type { RedisClient } from "../redis/connections.js";
import pool from "./lua/includes/pool.lua";
import async from "./lua/includes/async.lua";

const includes: Record<string, string> = { pool, async };

export type Arg = string | number | Buffer;

/** What one run of a script sends: its KEYS and its ARGV. */
export interface ScriptCall {
  keys: string[];
  args: Arg[];
}

/**
 * ioredis makes a Buffer-reply variant of every command, but its typings omit these two; callBuffer
 * is no way round, as it loses its command name under auto-pipelining.
 */
interface BufferScripting {
  evalshaBuffer(...args: Arg[]): Promise<unknown>;
  evalBuffer(...args: Arg[]): Promise<unknown>;
}

export interface ScriptBinding<Input, Reply> {
  /** The script's source, includes resolved. */
  source: string;
  /** Its KEYS and ARGV for an input. */
  call: (input: Input) => ScriptCall;
  /** Its raw reply (bulk strings as Buffers when `bytes`) decoded. */
  decode: (raw: unknown) => Reply;
  /** Bulk replies as Buffers: for scripts that return envelopes, whose payloads are bytes. */
  bytes?: boolean;
}

export class LuaScript<Input, Reply> {
  readonly source: string;
  readonly sha: string;

  constructor(private readonly binding: ScriptBinding<Input, Reply>) {
    this.source = binding.source.replace(/^--@include (\w+)$/gm, (_, name: string) => {
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

  /** Its KEYS and ARGV for an input (what run() and queue() send; the cluster slot audit reads them too). */
  call(input: Input): ScriptCall {
    return this.binding.call(input);
  }

  /** EVALSHA, loading the script with EVAL the first time a server has not seen it. */
  async run(redis: RedisClient, input: Input): Promise<Reply> {
    const { keys, args } = this.call(input);
    const client = redis as unknown as BufferScripting & RedisClient;
    try {
      const raw = this.binding.bytes ? await client.evalshaBuffer(this.sha, keys.length, ...keys, ...args) : await redis.evalsha(this.sha, keys.length, ...keys, ...args);
      return this.binding.decode(raw);
    } catch (error) {
      if (!isNoScript(error)) throw error;
      const raw = this.binding.bytes ? await client.evalBuffer(this.source, keys.length, ...keys, ...args) : await redis.eval(this.source, keys.length, ...keys, ...args);
      return this.binding.decode(raw);
    }
  }

  /**
   * Adds an EVALSHA to a pipeline, to go out in one write with what else it holds (scripts are loaded at
   * start). Its reply, as the pipeline gives it, goes through decode().
   */
  queue(pipeline: ChainableCommander, input: Input): ChainableCommander {
    const { keys, args } = this.call(input);
    if (this.binding.bytes) return (pipeline as unknown as Record<"evalshaBuffer", (...args: Arg[]) => ChainableCommander>).evalshaBuffer(this.sha, keys.length, ...keys, ...args);
    return pipeline.evalsha(this.sha, keys.length, ...keys, ...args);
  }

  decode(raw: unknown): Reply {
    return this.binding.decode(raw);
  }
}

function isNoScript(error: unknown): boolean {
  return error instanceof Error && error.message.startsWith("NOSCRIPT");
}

export function defineScript<Input, Reply>(binding: ScriptBinding<Input, Reply>): LuaScript<Input, Reply> {
  return new LuaScript(binding);
}

/** For scripts whose reply says nothing more than that they ran. */
export const ignoreReply = (): void => undefined;
