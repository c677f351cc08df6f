// Who may reach what, as middleware in front of thin handlers. Keys come as `Authorization: Bearer
// <key>`. A request that passes has res.locals.callerKeyId: "admin" for the admin token, the key's id
// for a stored key; an unauthenticated call to an `auth: "none"` function leaves it undefined.
//
// 401 Unauthorized: no key, or one Hearth does not know (never said apart from a function that does
// not exist: an anonymous caller learns nothing of which functions there are). 403 Forbidden: a
// valid key without the scope or the function.

import type { Request, RequestHandler, Response } from "express";
import type { Authenticator } from "../auth/authenticator.js";
import { hasScope, mayInvoke, type Caller, type Scope } from "../auth/scopes.js";
import { HearthError } from "../errors.js";
import type { FunctionCache } from "../functions/function-cache.js";
import { functionOfInvocation } from "../protocol/keys.js";

const REALM = 'Bearer realm="hearth"';

export interface Locals {
  callerKeyId?: string;
}

export class AccessControl {
  constructor(
    private readonly authenticator: Authenticator,
    private readonly functions: FunctionCache,
  ) {}

  /** Admin routes: a key with the scope the request needs. */
  requireScope(scopeOf: (req: Request) => Scope): RequestHandler {
    return async (req, res, next) => {
      const scope = scopeOf(req);
      const caller = await this.callerOf(req, res);
      if (!hasScope(caller, scope)) throw forbidden(`this key lacks the ${scope} scope`);
      next();
    };
  }

  /**
   * Invoke triggers (/function/:name, /async-function/:name, /http/:name/*): anyone for an `auth:
   * "none"` function, otherwise a key allowed to invoke it. The key is removed from the request then,
   * so that it never reaches the function's code (HTTP-proxy events carry the headers).
   */
  readonly invoke: RequestHandler = async (req, res, next) => {
    const name = String(req.params.name);
    const definition = await this.functions.get(name);
    if (definition?.auth === "none") return next();
    const caller = await this.callerOf(req, res);
    if (!mayInvoke(caller, name)) throw forbidden(`this key may not invoke function ${name}`);
    delete req.headers.authorization;
    next();
  };

  /** /invocations/:id: a key that may read (GET) or manage everything, or invoke that invocation's function. */
  readonly invocation: RequestHandler = async (req, res, next) => {
    const caller = await this.callerOf(req, res);
    if (hasScope(caller, req.method === "GET" ? "read" : "admin")) return next();
    if (!caller.scopes.includes("invoke")) throw forbidden("this key lacks the invoke, read or admin scope");
    // The id names its function; a malformed or unknown id is the handler's 404.
    const fn = functionOfInvocation(String(req.params.id));
    if (fn !== undefined && !mayInvoke(caller, fn)) throw forbidden(`this key may not invoke function ${fn}`);
    next();
  };

  private async callerOf(req: Request, res: Response<unknown, Locals>): Promise<Caller> {
    const header = req.headers.authorization;
    if (header === undefined) throw unauthorized("this call needs an API key: Authorization: Bearer <key>", REALM);
    const match = /^Bearer +(\S+) *$/i.exec(header);
    const caller = match ? await this.authenticator.authenticate(match[1]!) : undefined;
    if (!caller) throw unauthorized("the API key is not valid (unknown or revoked)", `${REALM}, error="invalid_token"`);
    res.locals.callerKeyId = caller.id;
    return caller;
  }
}

/** GET (and HEAD) need `read`; everything else changes something and needs `admin`. */
export function readOrAdmin(req: Request): Scope {
  return req.method === "GET" || req.method === "HEAD" ? "read" : "admin";
}

function unauthorized(message: string, challenge: string): HearthError {
  return new HearthError(401, "Unauthorized", message, { "WWW-Authenticate": challenge });
}

function forbidden(message: string): HearthError {
  return new HearthError(403, "Forbidden", message, { "WWW-Authenticate": `${REALM}, error="insufficient_scope"` });
}
