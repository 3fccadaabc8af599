import { describe, expect, it } from 'vitest';
import { createUuidV7, uuidV7Time } from '../../src/producers/uuidv7.ts';

const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/** A clock and a random source the test steers. */
function fakeSource(times: number[], fill = 0xff) {
  let i = 0;
  return {
    now: () => times[Math.min(i++, times.length - 1)] as number,
    random: (bytes: Uint8Array) => {
      bytes.fill(fill);
    },
  };
}

describe('uuidv7', () => {
  it('sets version 7 and the RFC 9562 variant, and encodes the millisecond timestamp', () => {
    const t = Date.UTC(2026, 10, 21, 10, 0, 0, 123);
    const id = createUuidV7(fakeSource([t]))();
    expect(id).toMatch(UUID_V7);
    expect(id[14]).toBe('7');
    expect(['8', '9', 'a', 'b']).toContain(id[19]);
    expect(uuidV7Time(id)).toBe(t);
    expect(id.slice(0, 13)).toBe(
      `${t.toString(16).padStart(12, '0').slice(0, 8)}-${t.toString(16).slice(-4)}`,
    );
  });

  it('keeps the variant bits even when the random bytes are all ones or all zeros', () => {
    for (const fill of [0x00, 0xff]) {
      const id = createUuidV7(fakeSource([1_700_000_000_000], fill))();
      expect(id).toMatch(UUID_V7);
    }
  });

  it('sorts in creation order within one millisecond, across the counter overflow, and when the clock steps back', () => {
    const t = 1_700_000_000_000;
    // 5000 ids in one millisecond (more than the 12-bit counter holds), then the clock going backwards.
    const times = [...Array.from({ length: 5000 }, () => t), t - 10, t - 10, t + 1, t + 50];
    const next = createUuidV7(fakeSource(times, 0x00));
    const ids = times.map(() => next());
    for (let i = 1; i < ids.length; i++) expect((ids[i] as string) > (ids[i - 1] as string)).toBe(true);
    expect(new Set(ids).size).toBe(ids.length);
    // Time never goes back and drifts ahead by at most the overflowed milliseconds.
    expect(uuidV7Time(ids[ids.length - 1] as string)).toBe(t + 50);
  });

  it('generates distinct, ordered ids with the real clock and randomness', () => {
    const next = createUuidV7();
    const ids = Array.from({ length: 10_000 }, () => next());
    expect(new Set(ids).size).toBe(10_000);
    expect([...ids].sort()).toEqual(ids);
    expect(Math.abs((uuidV7Time(ids[0] as string) as number) - Date.now())).toBeLessThan(60_000);
  });

  it('uuidV7Time refuses strings that are not UUIDv7', () => {
    expect(uuidV7Time('0190e6a0-7b1c-4b2a-8e3d-123456789abc')).toBeUndefined();
    expect(uuidV7Time('evt-1')).toBeUndefined();
  });
});
