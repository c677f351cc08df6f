/** An error a caller sees as a JSON body {errorMessage, errorType} with an HTTP status. */
export class HearthError extends Error {
  constructor(
    readonly status: number,
    readonly errorType: string,
    message: string,
    /** Headers the answer carries too (Retry-After on a 429). */
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}
