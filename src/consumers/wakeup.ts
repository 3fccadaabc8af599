/**
 * A waiter that a loop parks on until something it cares about changes (room freed, sink recovered, shutdown)
 * or a timeout passes, whichever is first. `wake()` releases every current waiter; later waits park again.
 */
export interface Wakeup {
  wait(timeoutMs: number): Promise<void>;
  wake(): void;
}

export function createWakeup(): Wakeup {
  const waiters = new Set<() => void>();
  return {
    wait(timeoutMs) {
      return new Promise<void>((resolve) => {
        const timer = setTimeout(done, timeoutMs);
        function done() {
          clearTimeout(timer);
          waiters.delete(done);
          resolve();
        }
        waiters.add(done);
      });
    },
    wake() {
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
