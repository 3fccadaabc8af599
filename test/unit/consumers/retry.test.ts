import { describe, expect, it, vi } from 'vitest';
import { retry } from '../../../src/consumers/retry.ts';

/** A step that fails `failures` times with the given errors, then returns 'ok'. */
function flaky(errors: unknown[]) {
  let calls = 0;
  const step = async () => {
    const error = errors[calls++];
    if (error !== undefined) throw error;
    return 'ok';
  };
  return { step, calls: () => calls };
}

describe('retry', () => {
  it('retries with the backoff of each attempt until the step succeeds', async () => {
    const { step, calls } = flaky([new Error('a'), new Error('b')]);
    const slept: number[] = [];
    const retried: [string, number][] = [];
    const result = await retry(step, {
      backoff: (attempt) => 100 * (attempt + 1),
      signal: new AbortController().signal,
      onRetry: (error, attempt) => retried.push([(error as Error).message, attempt]),
      sleep: async (ms) => {
        slept.push(ms);
      },
    });
    expect(result).toEqual({ status: 'done', value: 'ok' });
    expect(calls()).toBe(3);
    expect(slept).toEqual([100, 200]);
    expect(retried).toEqual([
      ['a', 0],
      ['b', 1],
    ]);
  });

  it('stops at once on an error shouldRetry refuses, without waiting or calling onRetry', async () => {
    const fatal = new Error('fatal');
    const { step, calls } = flaky([new Error('transient'), fatal]);
    const slept: number[] = [];
    let retried = 0;
    const result = await retry(step, {
      backoff: () => 5,
      signal: new AbortController().signal,
      shouldRetry: (error) => error !== fatal,
      onRetry: () => retried++,
      sleep: async (ms) => {
        slept.push(ms);
      },
    });
    expect(result).toEqual({ status: 'stopped', error: fatal });
    expect(calls()).toBe(2);
    expect(slept).toEqual([5]);
    expect(retried).toBe(1);
  });

  it('gives up when the signal aborts during the wait: no further attempt starts', async () => {
    const controller = new AbortController();
    const last = new Error('down');
    const { step, calls } = flaky([last, new Error('never thrown')]);
    const result = await retry(step, {
      backoff: () => 1000,
      signal: controller.signal,
      sleep: async () => controller.abort(),
    });
    expect(result).toEqual({ status: 'given_up', error: last });
    expect(calls()).toBe(1);
  });

  it('gives up without waiting when already aborted after a failure, but still reports it to onRetry', async () => {
    const controller = new AbortController();
    controller.abort();
    const { step } = flaky([new Error('down')]);
    let slept = false;
    let retried = 0;
    const result = await retry(step, {
      backoff: () => 1000,
      signal: controller.signal,
      onRetry: () => retried++,
      sleep: async () => {
        slept = true;
      },
    });
    expect(result.status).toBe('given_up');
    expect(slept).toBe(false);
    expect(retried).toBe(1);
  });

  it('waits on the real timer by default and wakes early when the signal aborts', async () => {
    const controller = new AbortController();
    const { step } = flaky([new Error('down')]);
    const started = Date.now();
    let waiting = false;
    const pending = retry(step, {
      backoff: () => 60_000,
      signal: controller.signal,
      onRetry: () => {
        waiting = true;
      },
    });
    await vi.waitFor(() => expect(waiting).toBe(true));
    controller.abort();
    expect((await pending).status).toBe('given_up');
    expect(Date.now() - started).toBeLessThan(5_000);
  });
});
