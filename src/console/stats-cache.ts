/**
 * Counts by reason come from a full scan of the dead-letter stream (the SDK's `dlqStats`): cheap for a few
 * thousand entries, seconds for a hundred thousand. Paging and filtering reuse one scan for `ttlMs`; concurrent
 * page loads share the scan in progress; an action through the console drops its stream's entry at once. Pure
 * apart from the loader it is given.
 */
export interface StatsCache<T> {
  get(key: string, load: () => Promise<T>): Promise<{ value: T; atMs: number }>;
  invalidate(key: string): void;
}

export function createStatsCache<T>(options: { ttlMs: number; now?: () => number }): StatsCache<T> {
  const now = options.now ?? Date.now;
  const entries = new Map<string, { promise: Promise<{ value: T; atMs: number }>; atMs: number }>();
  return {
    get(key, load) {
      const hit = entries.get(key);
      if (hit && now() - hit.atMs < options.ttlMs) return hit.promise;
      const atMs = now();
      const promise = load().then((value) => ({ value, atMs }));
      entries.set(key, { promise, atMs });
      // A failed scan is not kept: the next page load tries again.
      promise.catch(() => {
        if (entries.get(key)?.promise === promise) entries.delete(key);
      });
      return promise;
    },
    invalidate(key) {
      entries.delete(key);
    },
  };
}
