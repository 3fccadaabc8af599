import { describe, expect, it } from 'vitest';
import { backoffDelay } from '../../../src/consumers/backoff.ts';

const opts = (r: number) => ({ baseMs: 100, maxMs: 30_000, random: () => r });

describe('backoffDelay', () => {
  it('grows exponentially at the top of the jitter range', () => {
    expect(backoffDelay(0, opts(0.999999))).toBe(99);
    expect(backoffDelay(1, opts(0.999999))).toBe(199);
    expect(backoffDelay(4, opts(0.5))).toBe(800);
  });
  it('is capped by maxMs', () => {
    expect(backoffDelay(20, opts(0.5))).toBe(15_000);
    expect(backoffDelay(10_000, opts(0.999999))).toBeLessThan(30_000);
  });
  it('uses full jitter: zero randomness gives zero delay', () => {
    expect(backoffDelay(5, opts(0))).toBe(0);
  });
  it('stays within [0, ceiling) for any random value', () => {
    for (const r of [-1, 0, 0.3, 0.99, 1, 2]) {
      const d = backoffDelay(3, opts(r));
      expect(d).toBeGreaterThanOrEqual(0);
      expect(d).toBeLessThanOrEqual(800);
    }
  });
});
