/**
 * Exponential backoff with full jitter (AWS architecture blog, "Exponential Backoff And Jitter"): the delay is
 * uniform in [0, min(max, base * 2^attempt)). Full jitter spreads the retries of many workers after a shared
 * outage (a Postgres failover) instead of having them knock all at once. Pure: randomness is injected.
 */
export interface BackoffOptions {
  baseMs: number;
  maxMs: number;
  /** A function returning a number in [0, 1); Math.random in production. */
  random: () => number;
}

/** Delay before retry number `attempt` (0 for the first retry). */
export function backoffDelay(attempt: number, { baseMs, maxMs, random }: BackoffOptions): number {
  const exponent = Math.min(Math.max(0, attempt), 30); // 2^30 * base already exceeds any sane max
  const ceiling = Math.min(maxMs, baseMs * 2 ** exponent);
  const r = Math.min(Math.max(random(), 0), 1);
  return Math.floor(ceiling * r);
}
