// What the enqueue scripts (sync and async) answer, and the retry they share: a request built for a
// version that a deploy has just replaced is built once more for the new one.

import { HearthError } from "../errors.js";
import type { FunctionDefinition } from "../functions/definition.js";
import type { FunctionCache } from "../functions/function-cache.js";
import type { QueueOutcome } from "../protocol/container-lifecycle.js";


/** Seconds a caller turned away by a full queue is told to wait (Retry-After). */
const RETRY_AFTER_SECONDS = 1;

/**
 * Runs `queue` for the function's cached definition, and once more with a fresh one when the script
 * says a deploy happened meanwhile. Returns the outcome that queued (or found the Idempotency-Key taken); throws
 * 404 for a function that does not exist, 429 when its queue is full, 503 when Redis fails.
 */
export async function queueForCurrentVersion(
  functions: FunctionCache,
  name: string,
  queue: (definition: FunctionDefinition) => Promise<QueueOutcome>,
  what: string,
): Promise<["queued"] | ["duplicate", string] | ["mismatch"]> {
  let definition = await functions.get(name);
  for (let attempt = 0; definition && attempt < 2; attempt += 1) {
    const outcome = await queue(definition).catch((error: Error) => {
      throw new HearthError(503, "Hearth.Unavailable", `the request could not be queued: ${error.message}`);
    });
    switch (outcome[0]) {
      case "queued":
      case "duplicate":
      case "mismatch":
        return outcome;
      case "full":
        throw new HearthError(429, "TooManyRequests", `function ${name} already has ${outcome[1]} ${what} waiting; try again later`, {
          "Retry-After": String(RETRY_AFTER_SECONDS),
        });
    }
    functions.invalidate(name);
    definition = await functions.get(name);
  }
  throw functionNotFound(name);
}

export function functionNotFound(name: string): HearthError {
  return new HearthError(404, "FunctionNotFound", `function ${name} does not exist`);
}
