import clusterKeySlot from 'cluster-key-slot';
import { describe, expect, it } from 'vitest';
import { partitionOf } from '../../src/lib/partitions/partition-of.ts';
import { MAX_PARTITIONS, partitionSlotRange, partitionTag } from '../../src/lib/partitions/partition-tags.ts';
import { partitionedLayout } from '../../src/lib/partitions/stream-layout.ts';
import { CLUSTER_SLOTS, keyHashSlot } from '../../src/lib/redis/key-slot.ts';

describe('keyHashSlot', () => {
  it('agrees with the cluster-key-slot package (the real CRC16) on tags, bare keys and edge cases', () => {
    const keys = ['foo', '{user1000}.following', 'foo{{bar}}zap', 'foo{bar}{zap}', '{}', 'é{ü}', ''];
    for (let i = 0; i < 500; i++) keys.push(`streamsink:{orders/${i % 64}/${i}}:dlq`, `k${i}`);
    for (const key of keys) expect(keyHashSlot(key), key).toBe(clusterKeySlot(key));
  });

  it('hashes the whole key when the first { is followed at once by } (where cluster-key-slot 1.1 differs)', () => {
    // `redis-cli -p <cluster node> CLUSTER KEYSLOT 'foo{}{bar}'` answers 8363 on Redis 7.0.15; the package says 4015.
    expect(keyHashSlot('foo{}{bar}')).toBe(8363);
  });
});

describe('partitionTag', () => {
  it.each([1, 3, 16, 64, 128, 1024])(
    'puts partition p of %i in its own equal slice of the slots',
    (partitions) => {
      const seen = new Set<string>();
      for (let p = 0; p < partitions; p++) {
        const tag = partitionTag('orders', p, partitions);
        const slot = keyHashSlot(`x:{${tag}}:dlq`);
        const { from, to } = partitionSlotRange(p, partitions);
        expect(slot).toBeGreaterThanOrEqual(from);
        expect(slot).toBeLessThan(to);
        seen.add(tag);
      }
      expect(seen.size).toBe(partitions);
    },
  );

  it('spreads 16 partitions over 3 masters evenly where bare {0}..{15} tags do not', () => {
    const masters = (slot: number) => Math.min(2, Math.floor((slot * 3) / CLUSTER_SLOTS));
    const count = (tags: string[]) => {
      const per = [0, 0, 0];
      for (const tag of tags) {
        const m = masters(keyHashSlot(`{${tag}}`));
        per[m] = (per[m] ?? 0) + 1;
      }
      return per;
    };
    const ours = count(Array.from({ length: 16 }, (_, p) => partitionTag('orders', p, 16)));
    expect(Math.max(...ours) - Math.min(...ours)).toBeLessThanOrEqual(1);
    const bare = Array.from({ length: 32 }, (_, p) => String(p));
    const sixteenths = new Set(bare.map((tag) => Math.floor(keyHashSlot(`{${tag}}`) / 1024)));
    expect(sixteenths.size).toBeLessThan(16); // the reason for precomputed tags: bare digits leave slices empty
  });

  it('refuses counts and partitions out of range', () => {
    expect(() => partitionTag('s', 0, 0)).toThrow(RangeError);
    expect(() => partitionTag('s', 0, MAX_PARTITIONS + 1)).toThrow(RangeError);
    expect(() => partitionTag('s', 4, 4)).toThrow(RangeError);
  });
});

describe('partitionOf', () => {
  it('is the first four bytes of SHA-256 of the key, big-endian, mod P (the documented vector)', () => {
    // echo -n acct-1 | sha256sum  ->  ba36a4ed...
    const first = 0xba36a4ed;
    expect(partitionOf('acct-1', 16)).toBe(first % 16);
    expect(partitionOf('acct-1', 1)).toBe(0);
  });

  it('spreads keys near evenly', () => {
    const counts = new Array(16).fill(0);
    for (let i = 0; i < 16_000; i++) counts[partitionOf(`acct-${i}`, 16)] += 1;
    for (const c of counts) expect(Math.abs(c - 1000)).toBeLessThan(150);
  });
});

describe('partitionedLayout', () => {
  it('gives every key of a partition the same slot, and the lease too', () => {
    const layout = partitionedLayout('streamsink', 'orders', 8);
    if (layout.kind !== 'partitioned') throw new Error('expected partitioned');
    for (const keys of layout.partitions) {
      const slot = keyHashSlot(keys.stream);
      expect([keys.deadLetter, keys.dedupe('e1'), keys.lease].map(keyHashSlot)).toEqual([slot, slot, slot]);
    }
  });
});
