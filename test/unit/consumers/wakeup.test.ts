import { describe, expect, it } from 'vitest';
import { createWakeup } from '../../../src/consumers/wakeup.ts';

// Waits of a minute: a wait that the wake, the kept wake or the signal did not end would time the test out.
const LONG = 60_000;

describe('createWakeup', () => {
  it('wake releases every current waiter; a wake nobody heard is dropped by default', async () => {
    const w = createWakeup();
    const a = w.wait(LONG);
    const b = w.wait(LONG);
    w.wake();
    await Promise.all([a, b]);
    w.wake(); // nobody waiting
    let ended = false;
    const c = w.wait(20).then(() => {
      ended = true;
    });
    await new Promise((r) => setTimeout(r, 5));
    expect(ended).toBe(false); // still parked: the earlier wake was not kept
    await c;
  });

  it('with keepUnheard, a wake nobody heard ends the next wait at once, and only that one', async () => {
    const w = createWakeup({ keepUnheard: true });
    w.wake();
    w.wake();
    await w.wait(LONG);
    let ended = false;
    const next = w.wait(20).then(() => {
      ended = true;
    });
    await new Promise((r) => setTimeout(r, 5));
    expect(ended).toBe(false);
    await next;
  });

  it('a wait ends when its signal aborts, or at once when it already has', async () => {
    const w = createWakeup();
    const stop = new AbortController();
    const parked = w.wait(LONG, stop.signal);
    stop.abort();
    await parked;
    await w.wait(LONG, stop.signal);
  });
});
