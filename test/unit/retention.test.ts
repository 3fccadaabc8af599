import { describe, expect, it } from 'vitest';
import { entryGone, type PruneFacts, pruneVerdict } from '../../src/admin/prune-rule.ts';
import { neededAgeMs, parseTrimReply, pinningGroup } from '../../src/admin/trim-report.ts';
import { formatPrune } from '../../src/cli/inbox.ts';
import { formatTrim } from '../../src/cli/stream-trim.ts';
import { parseConfig } from '../../src/lib/config.ts';
import { formatAge, formatDuration, parseDuration } from '../../src/lib/duration.ts';

describe('parseDuration', () => {
  it('reads a whole number and one unit', () => {
    expect(parseDuration('0s')).toBe(0);
    expect(parseDuration('500ms')).toBe(500);
    expect(parseDuration('90s')).toBe(90_000);
    expect(parseDuration('30m')).toBe(1_800_000);
    expect(parseDuration('24h')).toBe(86_400_000);
    expect(parseDuration('7d')).toBe(604_800_000);
  });
  it('refuses anything else', () => {
    for (const bad of ['', '24', 'h', '1.5h', '-1h', '1w', '1h30m', '24 h', '1e3s', '999999999999999d'])
      expect(parseDuration(bad), bad).toBeUndefined();
  });
  it('formats ages roughly', () => {
    expect(formatAge(45_900)).toBe('45s');
    expect(formatAge(5_400_000)).toBe('90m');
    expect(formatAge(36 * 3_600_000)).toBe('36h');
    expect(formatAge(12 * 86_400_000 + 5)).toBe('12d');
    expect(formatAge(-5)).toBe('0s');
  });
  it('formats with the largest unit that divides', () => {
    expect(formatDuration(86_400_000)).toBe('1d');
    expect(formatDuration(5_400_000)).toBe('90m');
    expect(formatDuration(1500)).toBe('1500ms');
    expect(formatDuration(0)).toBe('0s');
  });
});

describe('trim report', () => {
  const now = 10_000;
  it('a group needs the oldest entry at or after its floor, nothing when past the last entry', () => {
    // floor inside the stream: its own time
    expect(neededAgeMs('4000-0', '1000-0', '9000-0', now)).toBe(6000);
    // floor before the first entry (a group that never read: 0-1): the first entry
    expect(neededAgeMs('0-1', '1000-0', '9000-0', now)).toBe(9000);
    // floor right after the last entry: everything acknowledged
    expect(neededAgeMs('9000-1', '1000-0', '9000-0', now)).toBe(0);
    // empty stream
    expect(neededAgeMs('0-1', null, null, now)).toBe(0);
  });
  it('names the group whose floor is the threshold, not the window', () => {
    const groups = [
      { group: 'a', floor: '5000-0', neededAgeMs: 0 },
      { group: 'b', floor: '20-0', neededAgeMs: 0 },
      { group: 'c', floor: '900-3', neededAgeMs: 0 },
    ];
    expect(pinningGroup(groups, '20-0')).toBe('b');
    // the replay window (now - keep) was lower than every floor
    expect(pinningGroup(groups, '10-0')).toBeUndefined();
    expect(pinningGroup([], '10-0')).toBeUndefined();
  });
  it('orders floors as ids, not as text', () => {
    const groups = [
      { group: 'text-first', floor: '10-0', neededAgeMs: 0 },
      { group: 'id-first', floor: '9-0', neededAgeMs: 0 },
    ];
    expect(pinningGroup(groups, '9-0')).toBe('id-first');
  });
  it('parses the script reply', () => {
    expect(parseTrimReply(['no_stream'])).toEqual({ status: 'no_stream' });
    expect(parseTrimReply(['no_groups', 5])).toEqual({ status: 'no_groups', nowMs: 5 });
    const ok = parseTrimReply([
      'ok',
      10_000,
      '4000-0',
      7,
      1,
      '3999-5',
      '4000-0',
      '9000-0',
      2,
      'a',
      '4000-0',
      'b',
      '9000-1',
    ]);
    expect(ok).toEqual({
      status: 'ok',
      nowMs: 10_000,
      threshold: '4000-0',
      removed: 7,
      more: true,
      cursor: '3999-5',
      firstId: '4000-0',
      lastId: '9000-0',
      groups: [
        { group: 'a', floor: '4000-0', neededAgeMs: 6000 },
        { group: 'b', floor: '9000-1', neededAgeMs: 0 },
      ],
    });
    expect(() => parseTrimReply(['what'])).toThrow(/unexpected reply/);
    expect(() => parseTrimReply([])).toThrow(/empty/);
  });
});

describe('prune rule', () => {
  const facts: PruneFacts = {
    cutoffMs: 1_000_000,
    firstEntryId: '500-0',
    lastGeneratedId: '900-0',
    inStream: new Set(['copied']),
    deadLettered: new Set(['parked']),
  };
  const row = (eventId: string, entryId: string, processedAtMs = 10) => ({ eventId, entryId, processedAtMs });

  it('prunes an old row whose entry is gone and whose id is nowhere else', () => {
    expect(pruneVerdict(row('e', '499-9'), facts)).toBe('prune');
  });
  it('keeps a row recorded within the retention (at the cutoff too)', () => {
    expect(pruneVerdict(row('e', '1-0', 1_000_000), facts)).toBe('too_young');
    expect(pruneVerdict(row('e', '1-0', 1_000_001), facts)).toBe('too_young');
  });
  it('keeps a row whose entry is still in the stream (a replay would deliver it)', () => {
    expect(pruneVerdict(row('e', '500-0'), facts)).toBe('entry_in_stream');
    expect(pruneVerdict(row('e', '800-0'), facts)).toBe('entry_in_stream');
  });
  it('keeps a row whose event id another retained entry carries', () => {
    expect(pruneVerdict(row('copied', '1-0'), facts)).toBe('id_in_stream');
  });
  it('keeps a row whose event is in the dead-letter stream (a redrive would deliver it)', () => {
    expect(pruneVerdict(row('parked', '1-0'), facts)).toBe('dead_lettered');
  });
  it('in an empty stream, entries up to the last-generated id are gone', () => {
    const empty = { firstEntryId: null, lastGeneratedId: '900-0' };
    expect(entryGone('900-0', empty)).toBe(true);
    expect(entryGone('900-1', empty)).toBe(false);
  });
  it('compares entry ids as ids, and never prunes a row whose entry id is not one', () => {
    expect(entryGone('99-0', { firstEntryId: '100-0', lastGeneratedId: '100-0' })).toBe(true);
    expect(entryGone('1000-0', { firstEntryId: '999-0', lastGeneratedId: '1000-0' })).toBe(false);
    expect(entryGone('legacy', facts)).toBe(false);
  });
});

describe('trim settings', () => {
  it('are off by default, with a 24 h replay window', () => {
    expect(parseConfig({}).trim).toEqual({ intervalMs: undefined, keepMs: 86_400_000 });
    expect(parseConfig({ STREAMSINK_TRIM_INTERVAL_MS: '60000', STREAMSINK_TRIM_KEEP: '0s' }).trim).toEqual({
      intervalMs: 60_000,
      keepMs: 0,
    });
  });
  it('name every bad value in one error', () => {
    expect(() => parseConfig({ STREAMSINK_TRIM_INTERVAL_MS: '5', STREAMSINK_TRIM_KEEP: '24' })).toThrow(
      /STREAMSINK_TRIM_INTERVAL_MS[\s\S]*STREAMSINK_TRIM_KEEP[\s\S]*a duration|STREAMSINK_TRIM_KEEP[\s\S]*a duration[\s\S]*STREAMSINK_TRIM_INTERVAL_MS/,
    );
  });
});

describe('command output', () => {
  it('trim names the group that holds the floor and how old its oldest needed entry is', () => {
    const text = formatTrim('payments', 0, {
      key: 'streamsink:{payments}',
      status: 'ok',
      dryRun: true,
      removed: 1_000_000,
      countCapped: true,
      threshold: '0-1',
      firstId: '5-0',
      lastId: '9-0',
      groups: [
        { group: 'idle', floor: '0-1', neededAgeMs: 5_400_000 },
        { group: 'ledger', floor: '9-1', neededAgeMs: 0 },
      ],
      pinnedBy: 'idle',
    });
    expect(text).toBe(
      'stream payments: would remove at least 1000000 entries below 0-1 (keep 0s)\n' +
        '  group idle: floor 0-1, still needs entries 90m old\n' +
        '  group ledger: floor 9-1, has acknowledged everything\n' +
        "  trimming stops at group idle's floor; if that group is no longer used, delete it (XGROUP DESTROY)\n",
    );
    expect(formatTrim('x', 0, { key: 'k', status: 'no_groups', dryRun: false, removed: 0 })).toContain(
      'no consumer groups, nothing trimmed',
    );
  });
  it('prune says what it kept and why', () => {
    const text = formatPrune({
      stream: 'payments',
      status: 'ok',
      dryRun: false,
      examined: 10,
      pruned: 6,
      kept: { entry_in_stream: 1, id_in_stream: 2, dead_lettered: 1 },
      skippedPipelines: [{ pipeline: 'multi', otherStream: 'orders' }],
      batches: 1,
    });
    expect(text).toBe(
      'stream payments: pruned 6 of 10 old inbox rows; kept 1 whose entry is still in the stream, 2 whose ' +
        'event id is, 1 dead-lettered\n  skipped pipeline multi: it also recorded events from stream orders\n',
    );
  });
});
