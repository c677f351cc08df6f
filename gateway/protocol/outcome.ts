// How an invocation ended, in the few words the metrics count by (sync and async alike).

export const INVOCATION_OUTCOMES = ["success", "function_error", "timeout", "throttled", "out_of_memory", "platform_error"] as const;

export type InvocationOutcome = (typeof INVOCATION_OUTCOMES)[number];

/**
 * The outcome of an error Hearth itself answered (gateway, invoker), by its status and error type.
 * A queue timeout counts as throttled: the request waited for capacity that never came.
 */
export function outcomeOfError(status: number, errorType: string): InvocationOutcome {
  if (errorType === "Runtime.OutOfMemory") return "out_of_memory";
  if (errorType === "Sandbox.Timedout" || errorType === "Hearth.Timeout") return "timeout";
  if (status === 429 || errorType === "Hearth.QueueTimeout") return "throttled";
  return "platform_error";
}
