import { describe, expect, it } from 'vitest';
import {
  parseXinfoGroups,
  parseXpendingSummary,
  type StreamStats,
  toGauges,
} from '../../src/consumers/stream-stats.ts';
import { entryIdMs } from '../../src/lib/redis/stream-ids.ts';

// Literal replies as ioredis returns them from Redis 7.2.
const XINFO_GROUPS = [
  [
    'name',
    'other',
    'consumers',
    0,
    'pending',
    0,
    'last-delivered-id',
    '0-0',
    'entries-read',
    null,
    'lag',
    12,
  ],
  [
    'name',
    'workers',
    'consumers',
    2,
    'pending',
    3,
    'last-delivered-id',
    '1700000005000-0',
    'entries-read',
    9,
    'lag',
    3,
  ],
];

describe('parseXinfoGroups', () => {
  it('reads every group with lag and pending', () => {
    const groups = parseXinfoGroups(XINFO_GROUPS);
    expect(groups).toEqual([
      { name: 'other', consumers: 0, pending: 0, lastDeliveredId: '0-0', entriesRead: null, lag: 12 },
      {
        name: 'workers',
        consumers: 2,
        pending: 3,
        lastDeliveredId: '1700000005000-0',
        entriesRead: 9,
        lag: 3,
      },
    ]);
  });

  it('keeps an unknown lag (nil after XDEL) as null', () => {
    const [g] = parseXinfoGroups([['name', 'g', 'pending', 0, 'lag', null]]);
    expect(g?.lag).toBeNull();
  });

  it('rejects replies of the wrong shape', () => {
    expect(() => parseXinfoGroups('OK')).toThrow(TypeError);
    expect(() => parseXinfoGroups([['name']])).toThrow(TypeError);
  });
});

describe('parseXpendingSummary', () => {
  it('reads count, oldest id and per-consumer counts', () => {
    expect(
      parseXpendingSummary([
        3,
        '1700000001000-0',
        '1700000004000-2',
        [
          ['a', '2'],
          ['b', '1'],
        ],
      ]),
    ).toEqual({
      count: 3,
      oldestId: '1700000001000-0',
      newestId: '1700000004000-2',
      consumers: [
        { name: 'a', pending: 2 },
        { name: 'b', pending: 1 },
      ],
    });
  });

  it('reads the empty summary', () => {
    expect(parseXpendingSummary([0, null, null, null])).toEqual({
      count: 0,
      oldestId: null,
      newestId: null,
      consumers: [],
    });
  });
});

describe('entryIdMs', () => {
  it('takes the milliseconds part', () => {
    expect(entryIdMs('1700000001000-7')).toBe(1_700_000_001_000);
    expect(entryIdMs('nonsense')).toBeNaN();
  });

  it('reads what /^(\\d+)-(\\d+)$/ reads, and refuses what it refuses', () => {
    const byPattern = (id: string) => {
      const m = /^(\d+)-(\d+)$/.exec(id);
      return m ? Number(m[1]) : Number.NaN;
    };
    const ids = [
      '0-0',
      '1-0',
      '007-1',
      '1700000001000-18446744073709551615',
      '18446744073709551615-0',
      '123456789012345-1',
      '1234567890123456-1',
      '',
      '-',
      '-1',
      '1-',
      '1--2',
      '1-2-3',
      '12a-3',
      '12-3a',
      ' 1-2',
      '1-2 ',
      '+1-2',
      '1.5-2',
      '١-2',
    ];
    for (let i = 0; i < 500; i++) {
      const digits = (n: number) => Array.from({ length: n }, () => Math.floor(Math.random() * 10)).join('');
      ids.push(`${digits(1 + (i % 20))}-${digits(1 + (i % 7))}`);
    }
    for (const id of ids) expect([id, entryIdMs(id)]).toEqual([id, byPattern(id)]);
  });
});

describe('toGauges', () => {
  const base: StreamStats = {
    streamExists: true,
    streamLength: 12,
    deadLetterLength: 2,
    group: { name: 'g', consumers: 1, pending: 3, lastDeliveredId: '1-0', entriesRead: 9, lag: 3 },
    pendingSummary: { count: 3, oldestId: '1700000001000-0', newestId: '1700000004000-0', consumers: [] },
  };

  it('derives the oldest pending age from the id time', () => {
    expect(toGauges(base, 1_700_000_031_000)).toEqual({
      lag: 3,
      pending: 3,
      oldestPendingAgeSeconds: 30,
      deadLetter: 2,
      streamLength: 12,
    });
  });

  it('reports age 0 with nothing pending, and never a negative age under clock skew', () => {
    const none = { ...base, pendingSummary: { count: 0, oldestId: null, newestId: null, consumers: [] } };
    expect(toGauges(none, 1_700_000_031_000).oldestPendingAgeSeconds).toBe(0);
    expect(toGauges(base, 1_700_000_000_000).oldestPendingAgeSeconds).toBe(0);
  });

  it('reports unknown lag as NaN, and zeros for a stream that does not exist', () => {
    const unknown = { ...base, group: { ...(base.group as NonNullable<StreamStats['group']>), lag: null } };
    expect(toGauges(unknown, 0).lag).toBeNaN();
    expect(toGauges({ ...base, group: undefined }, 0).lag).toBeNaN();
    const gone: StreamStats = {
      streamExists: false,
      streamLength: 0,
      deadLetterLength: 0,
      group: undefined,
      pendingSummary: { count: 0, oldestId: null, newestId: null, consumers: [] },
    };
    expect(toGauges(gone, 5)).toEqual({
      lag: 0,
      pending: 0,
      oldestPendingAgeSeconds: 0,
      deadLetter: 0,
      streamLength: 0,
    });
  });
});
