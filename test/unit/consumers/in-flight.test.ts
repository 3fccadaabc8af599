import { describe, expect, it } from 'vitest';
import { createInFlight } from '../../../src/consumers/in-flight.ts';
import { createWakeup } from '../../../src/consumers/wakeup.ts';

describe('in-flight tracking', () => {
  it('finds leases older than a time and renews them', () => {
    const inFlight = createInFlight(() => {});
    inFlight.add(['1-0'], 100);
    inFlight.add(['2-0'], 500);
    expect(inFlight.leasedBefore(200)).toEqual(['1-0']);
    inFlight.markLeased(['1-0', 'gone-0'], 600);
    expect(inFlight.leasedBefore(200)).toEqual([]);
    expect(inFlight.has('gone-0')).toBe(false);
  });

  it('knows when the entry held longest was taken, whatever its lease renewals', () => {
    const inFlight = createInFlight(() => {});
    expect(inFlight.oldestTakenAt()).toBeUndefined();
    inFlight.add(['1-0', '2-0'], 100);
    inFlight.add(['3-0'], 300);
    inFlight.markLeased(['1-0', '2-0'], 900);
    inFlight.add(['1-0'], 950); // taken again while held (a claim of our own entry): still held since 100
    expect(inFlight.oldestTakenAt()).toBe(100);
    inFlight.remove(['1-0', '2-0']);
    expect(inFlight.oldestTakenAt()).toBe(300);
    inFlight.remove(['3-0']);
    expect(inFlight.oldestTakenAt()).toBeUndefined();
  });

  it('wakes a waiting loop when entries are let go', async () => {
    const wakeup = createWakeup();
    const inFlight = createInFlight(() => wakeup.wake());
    inFlight.add(['1-0'], 0);
    const waited = wakeup.wait(60_000);
    inFlight.remove(['1-0']);
    await waited; // resolves long before the 60 s timeout
    expect(inFlight.size).toBe(0);
  });

  it('counts the bytes it holds, once per entry, and lets them go with the entries', () => {
    const inFlight = createInFlight(() => {});
    inFlight.add(['1-0', '2-0'], 0, [100, 250]);
    inFlight.add(['2-0'], 5, [250]); // taken on again (a claim of an entry already held): not counted twice
    expect(inFlight.bytes).toBe(350);
    inFlight.remove(['1-0', 'gone-0']);
    expect(inFlight.bytes).toBe(250);
    inFlight.remove(['2-0']);
    expect(inFlight.bytes).toBe(0);
  });
});
