import { describe, expect, it } from 'vitest';
import { entryKey, laneOf, pickBatch } from '../../../src/consumers/partitions/lanes.ts';
import type { StreamEntry } from '../../../src/consumers/types.ts';
import { partitionOf } from '../../../src/lib/partitions/partition-of.ts';

const entry = (id: string, key?: string): StreamEntry => ({
  id,
  deliveryCount: 1,
  fields: key === undefined ? ['id', id] : ['id', id, 'key', key],
});

describe('key lanes', () => {
  it('a batch is the head of the lane, in stream order', () => {
    const q = [entry('1-0', 'a'), entry('2-0', 'a'), entry('3-0', 'b'), entry('4-0', 'c'), entry('5-0', 'b')];
    expect(pickBatch(q, 10).map((e) => e.id)).toEqual(['1-0', '2-0', '3-0', '4-0', '5-0']);
    expect(pickBatch(q, 2).map((e) => e.id)).toEqual(['1-0', '2-0']);
  });

  it('an entry without a key is independent of every other', () => {
    const q = [entry('1-0'), entry('2-0'), entry('3-0', 'a')];
    expect(entryKey(q[0] as StreamEntry)).not.toBe(entryKey(q[1] as StreamEntry));
  });

  it('spreads the keys of one partition over all lanes, whatever P and L', () => {
    for (const [P, L] of [
      [16, 4],
      [64, 8],
      [8, 16],
    ] as const) {
      const keys = Array.from({ length: 20_000 }, (_, i) => `acct-${i}`).filter(
        (k) => partitionOf(k, P) === 3,
      );
      const counts = new Array<number>(L).fill(0);
      for (const k of keys) counts[laneOf(k, L)] = (counts[laneOf(k, L)] as number) + 1;
      const even = keys.length / L;
      for (const c of counts) expect(Math.abs(c - even)).toBeLessThan(even * 0.35);
    }
  });

  it('one lane takes everything', () => {
    expect(laneOf('x', 1)).toBe(0);
  });
});
