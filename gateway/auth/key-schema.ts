// Validation of POST /system/keys: {name, scopes, functions}.

import { z } from "zod";
import { FUNCTION_NAME } from "../functions/definition.js";
import { ALL_FUNCTIONS, SCOPES } from "./scopes.js";

export const keyRequestSchema = z
  .object({
    name: z.string().regex(/^[A-Za-z0-9 _.:@-]{1,64}$/, "name is 1-64 letters, digits, spaces and _ . : @ -"),
    scopes: z
      .array(z.enum(SCOPES))
      .min(1, "scopes needs at least one of admin, invoke, read, metrics")
      .refine((scopes) => new Set(scopes).size === scopes.length, "scopes lists each scope once"),
    functions: z
      .array(z.string().refine((name) => name === ALL_FUNCTIONS || FUNCTION_NAME.test(name), "each entry is a function name or *"))
      .max(1000)
      .default([]),
  })
  .strict()
  // An invoke key names what it may call: a key for every function is asked for with "*", never by default.
  .refine((request) => !request.scopes.includes("invoke") || request.functions.length > 0, {
    message: 'a key with the invoke scope needs functions: names of functions, or ["*"] for all',
    path: ["functions"],
  });

export type KeyRequest = z.infer<typeof keyRequestSchema>;
