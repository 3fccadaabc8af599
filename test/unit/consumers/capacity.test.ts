import { describe, expect, it } from 'vitest';
import { freeCapacity, idlePollDelay, readBytes, readCount } from '../../../src/consumers/capacity.ts';

describe('readCount', () => {
  it('asks for the whole limit when idle', () => {
    expect(readCount({ inFlight: 0, maxInFlight: 2000, batchSize: 500 })).toBe(2000);
  });
  it('asks only for free capacity', () => {
    expect(readCount({ inFlight: 1500, maxInFlight: 2000, batchSize: 500 })).toBe(500);
    expect(readCount({ inFlight: 700, maxInFlight: 2000, batchSize: 500 })).toBe(1000);
  });
  it('while busy reads whole batches, so a backlog is worked in full batches', () => {
    expect(readCount({ inFlight: 1200, maxInFlight: 2000, batchSize: 500 })).toBe(500);
    expect(readCount({ inFlight: 499, maxInFlight: 2000, batchSize: 500 })).toBe(1500);
    expect(readCount({ inFlight: 3, maxInFlight: 10, batchSize: 4 })).toBe(4);
  });
  it('reads nothing when full or over the limit', () => {
    expect(readCount({ inFlight: 2000, maxInFlight: 2000, batchSize: 500 })).toBe(0);
    expect(readCount({ inFlight: 2100, maxInFlight: 2000, batchSize: 500 })).toBe(0);
  });
  it('waits instead of reading a sliver while busy', () => {
    expect(readCount({ inFlight: 1900, maxInFlight: 2000, batchSize: 500 })).toBe(0);
    expect(readCount({ inFlight: 1501, maxInFlight: 2000, batchSize: 500 })).toBe(0);
  });
  it('a limit smaller than the batch size still reads when not full of work', () => {
    expect(readCount({ inFlight: 0, maxInFlight: 10, batchSize: 500 })).toBe(10);
    expect(readCount({ inFlight: 5, maxInFlight: 10, batchSize: 500 })).toBe(0);
  });
  it('never exceeds the limit', () => {
    for (let inFlight = 0; inFlight <= 60; inFlight++) {
      const n = readCount({ inFlight, maxInFlight: 50, batchSize: 7 });
      expect(n).toBeLessThanOrEqual(Math.max(0, 50 - inFlight));
    }
  });
});

describe('freeCapacity', () => {
  it('is the room left, never negative', () => {
    expect(freeCapacity({ inFlight: 1999, maxInFlight: 2000 })).toBe(1);
    expect(freeCapacity({ inFlight: 3000, maxInFlight: 2000 })).toBe(0);
  });
});

describe('readBytes', () => {
  const MiB = 1024 * 1024;
  it('gives an idle worker the whole budget, so one entry up to the payload limit is always readable', () => {
    expect(readBytes({ inFlight: 0, inFlightBytes: 0, maxInFlightBytes: 32 * MiB })).toBe(32 * MiB);
  });

  it('gives a busy worker what is free, once at least a quarter of the budget is', () => {
    expect(readBytes({ inFlight: 10, inFlightBytes: 8 * MiB, maxInFlightBytes: 32 * MiB })).toBe(24 * MiB);
    expect(readBytes({ inFlight: 10, inFlightBytes: 24 * MiB, maxInFlightBytes: 32 * MiB })).toBe(8 * MiB);
    expect(readBytes({ inFlight: 10, inFlightBytes: 25 * MiB, maxInFlightBytes: 32 * MiB })).toBe(0);
  });

  it('is 0 while over the budget (the last entry of a read may overshoot it)', () => {
    expect(readBytes({ inFlight: 3, inFlightBytes: 33 * MiB, maxInFlightBytes: 32 * MiB })).toBe(0);
  });
});

describe('idlePollDelay', () => {
  it('starts at 1 ms after the last entry and doubles up to the configured longest wait', () => {
    expect([0, 1, 2, 3, 4, 5, 6, 7, 50].map((n) => idlePollDelay(n, 50))).toEqual([
      1, 2, 4, 8, 16, 32, 50, 50, 50,
    ]);
  });
});
