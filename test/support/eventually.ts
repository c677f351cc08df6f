// Waiting for a state that settles asynchronously. A module of its own (no vitest) so that the bench,
// which reuses test/support/redis-cluster.ts, can bundle it.

/** Polls `check` until it returns a value other than undefined (for states that settle asynchronously). */
export async function eventually<T>(check: () => Promise<T | undefined>, timeoutMs = 20_000, what = "condition"): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
