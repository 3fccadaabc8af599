import { sleep as abortableSleep } from './wakeup.ts';

/**
 * Run one step until it succeeds, an error says retrying is pointless, or the worker gives up. The timing is
 * injected (backoff, and sleep for tests), so the decisions are testable without a clock.
 *
 * Contract: an error the step throws is retried while `shouldRetry(error)` is true; `onRetry` sees each retried
 * error before the wait (log and count there). The signal is checked after a failure and again after the wait,
 * so an aborted worker stops within one step, never mid-step: a step that started runs to its end.
 */
export interface RetryOptions {
  /** Delay in ms before retry number `attempt` (0 for the first retry): e.g. backoffDelay with injected random. */
  backoff: (attempt: number) => number;
  /** Aborted when the caller gives up (shutdown deadline): no further attempt starts. */
  signal: AbortSignal;
  /** False: stop and report the error as `stopped` (default: retry every error). */
  shouldRetry?: (error: unknown) => boolean;
  /** Called for each error that will be retried, with the attempt that failed (0 for the first). */
  onRetry?: (error: unknown, attempt: number) => void;
  /** Waits `ms` or until `signal` aborts; the real timer by default. */
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
}

export type RetryResult<T> =
  | { status: 'done'; value: T }
  /** `shouldRetry` refused the error. */
  | { status: 'stopped'; error: unknown }
  /** The signal aborted before the step succeeded; `error` is the last failure. */
  | { status: 'given_up'; error: unknown };

export async function retry<T>(step: () => Promise<T>, options: RetryOptions): Promise<RetryResult<T>> {
  const { backoff, signal, shouldRetry, onRetry, sleep = abortableSleep } = options;
  for (let attempt = 0; ; attempt++) {
    try {
      return { status: 'done', value: await step() };
    } catch (error) {
      if (shouldRetry && !shouldRetry(error)) return { status: 'stopped', error };
      onRetry?.(error, attempt);
      if (signal.aborted) return { status: 'given_up', error };
      await sleep(backoff(attempt), signal);
      if (signal.aborted) return { status: 'given_up', error };
    }
  }
}
