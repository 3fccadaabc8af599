/**
 * Wait for a condition instead of sleeping a guessed time. Polls `check` until it returns a truthy value
 * (which is returned) or the deadline passes, then throws with `describe()` so the failure says what was seen.
 */
export async function waitFor<T>(
  check: () => Promise<T> | T,
  options: { timeoutMs?: number; intervalMs?: number; describe?: () => Promise<string> | string } = {},
): Promise<NonNullable<T>> {
  const timeoutMs = options.timeoutMs ?? 30_000;
  const intervalMs = options.intervalMs ?? 50;
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value) return value as NonNullable<T>;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) {
      const seen = options.describe ? await options.describe() : '';
      const why = lastError instanceof Error ? ` (last error: ${lastError.message})` : '';
      throw new Error(`condition not met within ${timeoutMs} ms${seen ? `: ${seen}` : ''}${why}`);
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
