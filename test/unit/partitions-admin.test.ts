import { describe, expect, it } from 'vitest';
import { locateId, qualifiedId } from '../../src/admin/dlq.ts';
import { chunksByPartition } from '../../src/admin/dlq-redrive.ts';
import { buildPartitionedReport, type PartitionStatus } from '../../src/cli/status-partitions.ts';
import { partitionedLayout } from '../../src/lib/partitions/stream-layout.ts';
import { streamKeys } from '../../src/lib/redis/keys.ts';

const layout = partitionedLayout('x', 'orders', 4);
if (layout.kind !== 'partitioned') throw new Error('unreachable');
const [p0, p1, p2] = layout.partitions;

describe('dead-letter ids across partitions', () => {
  it('qualifies ids with the partition only on a partitioned stream, and finds them again', () => {
    const single = streamKeys('x', 'plain');
    expect(qualifiedId(single, '1-0')).toBe('1-0');
    expect(qualifiedId(p2 as never, '1-0')).toBe('2/1-0');
    expect(locateId(layout.partitions, '2/5-1')).toEqual([{ keys: p2, id: '5-1' }]);
    expect(locateId(layout.partitions, '5-1').map((l) => l.keys)).toEqual(layout.partitions);
    expect(() => locateId(layout.partitions, '9/5-1')).toThrow(/no partition 9/);
    expect(() => locateId(layout.partitions, '2/x')).toThrow(/not a stream entry id/);
  });

  it('redrives in chunks of one partition each, keeping the order within a partition', () => {
    const picked = [
      { keys: p0, id: '1-0' },
      { keys: p1, id: '2-0' },
      { keys: p0, id: '3-0' },
      { keys: p0, id: '4-0' },
      { keys: p1, id: '5-0' },
    ] as never;
    const chunks = chunksByPartition(picked, 2).map((c) => c.map((e) => `${e.keys.partition}:${e.id}`));
    expect(chunks).toEqual([['0:1-0', '0:3-0'], ['0:4-0'], ['1:2-0', '1:5-0']]);
  });
});

describe('partitioned status report', () => {
  const part = (partition: number, over: Partial<PartitionStatus>): PartitionStatus => ({
    partition,
    key: `k${partition}`,
    exists: true,
    hasGroup: true,
    length: 10,
    deadLetter: 0,
    lag: 0,
    pending: 0,
    oldestPendingId: null,
    owner: null,
    consumers: [],
    ...over,
  });
  const loss = { checked: true, suspected: false, signs: [], details: [] };

  it('sums length, lag and pending, keeps the oldest pending entry, and merges consumers over partitions', () => {
    const r = buildPartitionedReport(
      'orders',
      'g',
      [
        part(0, {
          lag: 3,
          pending: 2,
          oldestPendingId: '2000-0',
          consumers: [{ name: 'a', pending: 2, idleMs: 50 }],
        }),
        part(1, {
          lag: 4,
          pending: 1,
          oldestPendingId: '1000-0',
          consumers: [{ name: 'a', pending: 1, idleMs: 10 }],
        }),
        part(2, { length: 0, hasGroup: false, lag: 0 }),
      ],
      3000,
      loss,
    );
    expect(r).toMatchObject({
      length: 20,
      lag: 7,
      pending: 3,
      oldestPendingId: '1000-0',
      partitionsWithGroup: 2,
    });
    expect(r.oldestPendingAgeSeconds).toBe(2);
    expect(r.consumers).toEqual([{ name: 'a', pending: 3, idleMs: 10, partitions: 2 }]);
  });

  it('says the total lag is unknown when one partition cannot tell', () => {
    const r = buildPartitionedReport('orders', 'g', [part(0, { lag: 3 }), part(1, { lag: null })], 0, loss);
    expect(r.lag).toBeNull();
  });
});
