/**
 * A waiter that a loop parks on until something it cares about changes (room freed, sink recovered, shutdown)
 * or a timeout passes, whichever is first. `wake()` releases every current waiter; later waits park again.
 * With `keepUnheard`, a wake that finds nobody waiting is kept for the next wait, which returns at once (a
 * partition's doorbell that rang while its reader was busy, partitions/doorbells.ts).
 */
export interface Wakeup {
  /** Resolves on `wake()`, after `timeoutMs`, or when `signal` aborts, whichever is first. */
  wait(timeoutMs: number, signal?: AbortSignal): Promise<void>;
  wake(): void;
}

export function createWakeup(options: { keepUnheard?: boolean } = {}): Wakeup {
  const waiters = new Set<() => void>();
  let unheard = false;
  return {
    wait(timeoutMs, signal) {
      if (unheard || signal?.aborted) {
        unheard = false;
        return Promise.resolve();
      }
      return new Promise<void>((resolve) => {
        const timer = setTimeout(done, timeoutMs);
        signal?.addEventListener('abort', done, { once: true });
        function done() {
          clearTimeout(timer);
          signal?.removeEventListener('abort', done);
          waiters.delete(done);
          resolve();
        }
        waiters.add(done);
      });
    },
    wake() {
      if (waiters.size === 0 && options.keepUnheard) unheard = true;
      for (const w of [...waiters]) w();
    },
  };
}

/** Sleep `ms`, or less when `signal` aborts (then resolve, not reject: callers check the signal themselves). */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted || ms <= 0) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(finish, ms);
    function finish() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', finish);
      resolve();
    }
    signal?.addEventListener('abort', finish, { once: true });
  });
}
