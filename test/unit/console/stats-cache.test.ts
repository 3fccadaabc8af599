import { describe, expect, it } from 'vitest';
import { createStatsCache } from '../../../src/console/stats-cache.ts';

describe('console stats cache', () => {
  it('reuses a value for ttl, loads again after it or after invalidate', async () => {
    let t = 0;
    let loads = 0;
    const cache = createStatsCache<number>({ ttlMs: 100, now: () => t });
    const load = async () => ++loads;
    expect(await cache.get('s', load)).toEqual({ value: 1, atMs: 0 });
    t = 99;
    expect((await cache.get('s', load)).value).toBe(1);
    t = 100;
    expect(await cache.get('s', load)).toEqual({ value: 2, atMs: 100 });
    cache.invalidate('s');
    expect((await cache.get('s', load)).value).toBe(3);
    expect((await cache.get('other', load)).value).toBe(4);
  });

  it('shares a load in progress and does not keep a failed one', async () => {
    let loads = 0;
    const cache = createStatsCache<number>({ ttlMs: 1000, now: () => 0 });
    let release: (v: number) => void = () => {};
    const slow = () => {
      loads += 1;
      return new Promise<number>((r) => {
        release = r;
      });
    };
    const a = cache.get('s', slow);
    const b = cache.get('s', slow);
    release(7);
    expect([(await a).value, (await b).value, loads]).toEqual([7, 7, 1]);
    cache.invalidate('s');
    await expect(cache.get('s', async () => Promise.reject(new Error('down')))).rejects.toThrow('down');
    expect((await cache.get('s', async () => 8)).value).toBe(8);
  });
});
