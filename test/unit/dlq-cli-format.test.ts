import { describe, expect, it } from 'vitest';
import type { DlqEntry } from '../../src/admin/dlq.ts';
import { parseSelector, parseSince } from '../../src/cli/dlq.ts';
import {
  formatListLine,
  formatShow,
  formatStats,
  prettyValue,
  progressBar,
} from '../../src/cli/dlq-format.ts';
import { UsageError } from '../../src/lib/errors.ts';

const entry: DlqEntry = {
  id: '1795297326463-0',
  meta: {
    sourceStream: 'streamsink:{payments}',
    sourceId: '1795297323978-1',
    group: 'streamsink',
    consumer: 'pod-a',
    reason: 'unsupported_currency',
    errorClass: 'PoisonMessageError',
    errorMessage: 'JPY is not one of EUR, USD, GBP',
    deliveryCount: 1,
    firstSeen: '2026-11-21T21:42:03.978Z',
    deadLetteredAt: '2026-11-21T21:42:06.451Z',
    pipeline: 'payments',
    pipelineVersion: '1',
    eventType: 'payment.captured',
    eventId: 'evt-1002',
  },
  original: ['id', 'evt-1002', 'data', '{"currency":"JPY"}', 'weird\nname', '{not json'],
};

const flags = { json: false, help: false, all: false, dryRun: false, yes: false };

describe('dlq CLI helpers', () => {
  it('parses --since as an age or an ISO time, and refuses anything else', () => {
    const now = Date.parse('2026-11-21T12:00:00.000Z');
    expect(parseSince('30m', now).toISOString()).toBe('2026-11-21T11:30:00.000Z');
    expect(parseSince('2h', now).toISOString()).toBe('2026-11-21T10:00:00.000Z');
    expect(parseSince('7d', now).toISOString()).toBe('2026-11-14T12:00:00.000Z');
    expect(parseSince('2026-11-20T00:00:00Z', now).toISOString()).toBe('2026-11-20T00:00:00.000Z');
    expect(() => parseSince('yesterday', now)).toThrow(UsageError);
    expect(() => parseSince('12', now)).toThrow(UsageError);
  });

  it('needs exactly one selector', () => {
    expect(parseSelector({ ...flags, all: true }, '')).toEqual({ all: true });
    expect(parseSelector({ ...flags, ids: '1-0, 2-0,' }, '')).toEqual({ ids: ['1-0', '2-0'] });
    expect(parseSelector({ ...flags, reason: 'invalid_json', type: 't' }, '')).toEqual({
      reason: 'invalid_json',
      type: 't',
    });
    expect(() => parseSelector(flags, '')).toThrow(UsageError);
    expect(() => parseSelector({ ...flags, all: true, reason: 'x' }, '')).toThrow(/exactly one/);
    expect(() => parseSelector({ ...flags, ids: ' , ' }, '')).toThrow(UsageError);
  });

  it('renders entries for people', () => {
    expect(formatListLine(entry)).toBe(
      '1795297326463-0  2026-11-21T21:42:06.451Z  unsupported_currency  payment.captured  evt-1002  ' +
        'deliveries=1  PoisonMessageError: JPY is not one of EUR, USD, GBP',
    );
    const shown = formatShow(entry);
    expect(shown).toContain('"currency": "JPY"');
    expect(shown).toContain('weird\\nname');
    expect(shown).toContain('{not json');
    expect(prettyValue('a\u0000b')).toBe('a\\u0000b');
    const stats = formatStats({
      stream: 'payments',
      key: 'streamsink:{payments}:dlq',
      total: 3,
      byReason: { invalid_json: 1, unsupported_currency: 2 },
      byType: {},
      unreadable: 0,
    });
    expect(stats.split('\n').slice(0, 4)).toEqual([
      'dead-letter stream streamsink:{payments}:dlq: 3 entries',
      'by reason',
      '  unsupported_currency  2',
      '  invalid_json          1',
    ]);
    expect(progressBar({ done: 5, total: 10, redriven: 4, skipped: 1, failed: 0 }, 10)).toBe(
      'redrive [#####-----] 5/10  redriven 4  skipped 1  failed 0',
    );
  });
});
