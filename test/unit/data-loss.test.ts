import { describe, expect, it } from 'vitest';
import { createCommitWatermark, detectDataLoss, type StreamPosition } from '../../src/consumers/data-loss.ts';
import { compareEntryIds, maxEntryId } from '../../src/lib/redis/stream-ids.ts';

const live = (lastGeneratedId: string, entriesAdded: number | null): StreamPosition => ({
  exists: true,
  lastGeneratedId,
  entriesAdded,
});
const missing: StreamPosition = { exists: false, lastGeneratedId: '0-0', entriesAdded: null };

describe('entry id order', () => {
  it('orders by milliseconds, then sequence, as numbers (not as text)', () => {
    expect(compareEntryIds('9-0', '10-0')).toBeLessThan(0);
    expect(compareEntryIds('10-2', '10-10')).toBeLessThan(0);
    expect(compareEntryIds('10-10', '10-10')).toBe(0);
    expect(compareEntryIds('1700000000001-0', '1700000000000-99')).toBeGreaterThan(0);
    // Beyond 2^53: a Number comparison would call these equal.
    expect(compareEntryIds('1-18446744073709551615', '1-18446744073709551614')).toBeGreaterThan(0);
    expect(() => compareEntryIds('x', '1-0')).toThrow(TypeError);
  });

  it('maxEntryId keeps the higher one and treats null as nothing', () => {
    expect(maxEntryId(null, null)).toBeNull();
    expect(maxEntryId('5-0', null)).toBe('5-0');
    expect(maxEntryId(null, '5-0')).toBe('5-0');
    expect(maxEntryId('5-10', '5-9')).toBe('5-10');
  });

  it('the commit watermark keeps the highest id it was told, in any order', () => {
    const w = createCommitWatermark();
    expect(w.highest()).toBeNull();
    w.observe(['20-1', '9-0', '20-0']);
    w.observe([]);
    w.observe(['10-5', 'not-an-id']);
    expect(w.highest()).toBe('20-1');
    expect(w.take()).toBe('20-1');
    expect(w.highest()).toBeNull(); // once recorded, Postgres holds it
    w.observe(['3-0']);
    expect(w.take()).toBe('3-0');
  });
});

describe('detectDataLoss', () => {
  it('a live stream at or ahead of every watermark is fine (trimming does not lower its counters)', () => {
    expect(detectDataLoss(live('100-0', 50), { committedId: '100-0', entriesAdded: 50 }).suspected).toBe(
      false,
    );
    expect(detectDataLoss(live('200-3', 70), { committedId: '100-0', entriesAdded: 50 }).suspected).toBe(
      false,
    );
    expect(detectDataLoss(live('0-0', 0), { committedId: null, entriesAdded: null }).suspected).toBe(false);
    // Redis before 7: no entries-added, only the id check.
    expect(detectDataLoss(live('100-0', null), { committedId: '90-0', entriesAdded: 40 }).suspected).toBe(
      false,
    );
  });

  it('a stream behind the committed id: restarted without persistence and recreated empty', () => {
    const v = detectDataLoss(live('0-0', 0), { committedId: '100-4', entriesAdded: 50 });
    expect(v.suspected).toBe(true);
    expect(v.signs).toEqual(['last_id_behind', 'stream_recreated']);
    expect(v.details.join('\n')).toContain('100-4');
  });

  it('same milliseconds, lower sequence is behind too', () => {
    const v = detectDataLoss(live('100-3', null), { committedId: '100-4', entriesAdded: null });
    expect(v.signs).toEqual(['last_id_behind']);
  });

  it('a recreated stream that received new, higher ids is still caught by entries-added', () => {
    const v = detectDataLoss(live('999-0', 3), { committedId: '100-4', entriesAdded: 50 });
    expect(v.suspected).toBe(true);
    expect(v.signs).toEqual(['stream_recreated']);
  });

  it('a missing stream is loss only when something was committed from it', () => {
    expect(detectDataLoss(missing, { committedId: '100-0', entriesAdded: null }).signs).toEqual([
      'stream_missing',
    ]);
    expect(detectDataLoss(missing, { committedId: null, entriesAdded: 12 }).signs).toEqual([
      'stream_missing',
    ]);
    expect(detectDataLoss(missing, { committedId: null, entriesAdded: 0 }).suspected).toBe(false);
    expect(detectDataLoss(missing, { committedId: null, entriesAdded: null }).suspected).toBe(false);
  });
});
