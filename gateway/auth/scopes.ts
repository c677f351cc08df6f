// Who a request comes from, and what that lets it do. `admin` may do everything; `invoke` calls the
// functions its key names (and reads or cancels their async invocations); `read` sees the admin API's
// GET views; `metrics` scrapes /metrics when it is protected.

export const SCOPES = ["admin", "invoke", "read", "metrics"] as const;
export type Scope = (typeof SCOPES)[number];

/** Any function, in a key's `functions` list. */
export const ALL_FUNCTIONS = "*";

export interface Caller {
  /** "admin" for the admin token, the key's id for a stored key (res.locals.callerKeyId). */
  id: string;
  scopes: readonly Scope[];
  /** Function names, or "*": narrows `invoke`. */
  functions: readonly string[];
}

export const ADMIN_KEY_ID = "admin";

export const ADMIN_CALLER: Caller = { id: ADMIN_KEY_ID, scopes: ["admin"], functions: [ALL_FUNCTIONS] };

export function hasScope(caller: Caller, scope: Scope): boolean {
  return caller.scopes.includes("admin") || caller.scopes.includes(scope);
}

export function mayInvoke(caller: Caller, fn: string): boolean {
  if (caller.scopes.includes("admin")) return true;
  return caller.scopes.includes("invoke") && (caller.functions.includes(ALL_FUNCTIONS) || caller.functions.includes(fn));
}
