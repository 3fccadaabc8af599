import { describe, expect, it } from 'vitest';
import type { DlqEntry } from '../../src/admin/dlq.ts';
import { formatDryRun, formatListCut, formatListTable, formatMissing } from '../../src/cli/dlq-format.ts';
import { formatProgress } from '../../src/cli/publish.ts';
import { parseInterval } from '../../src/cli/status.ts';

const entry = (id: string, reason: string, type: string, eventId: string): DlqEntry =>
  ({
    id,
    meta: {
      deadLetteredAt: '2026-11-21T21:42:06.451Z',
      reason,
      eventType: type,
      eventId,
      deliveryCount: 1,
      errorClass: 'PoisonMessageError',
      errorMessage: 'no',
    },
    original: [],
  }) as unknown as DlqEntry;

describe('publish progress', () => {
  it('shows the total and a percentage when known, and the rate', () => {
    const base = { published: 4, duplicates: 1, conflicts: 0, rejected: 0, elapsedMs: 2000 };
    expect(formatProgress({ ...base, lines: 5000, totalLines: 20000 })).toBe(
      '5,000 of 20,000 lines (25%), 2,500 lines/s: published 4, duplicates 1, conflicts 0, rejected 0',
    );
    expect(formatProgress({ ...base, lines: 10, totalLines: undefined })).toBe(
      '10 lines, 5 lines/s: published 4, duplicates 1, conflicts 0, rejected 0',
    );
    expect(formatProgress({ ...base, lines: 0, totalLines: 0, elapsedMs: 0 })).toContain(
      '0 lines, 0 lines/s',
    );
  });
});

describe('dlq formatting', () => {
  const entries = [
    entry('1-0', 'invalid_json', 'payment.captured', 'e-1'),
    entry('12345-10', 'unsupported_currency', 'x', 'event-long-id'),
  ];
  it('aligns the list columns', () => {
    const rows = formatListTable(entries).trimEnd().split('\n');
    expect(rows[0]?.indexOf('deliveries=')).toBe(rows[1]?.indexOf('deliveries='));
    expect(rows[0]?.indexOf('invalid_json')).toBe(rows[1]?.indexOf('unsupported_currency'));
    expect(formatListTable([])).toBe('');
  });
  it('says how much was cut', () => {
    expect(formatListCut(100, 114)).toBe('showing 100 of 114 (the newest; --limit 114 shows all)\n');
    expect(formatListCut(100, 100)).toBe('');
  });
  it('lists a dry run, and how many more', () => {
    const text = formatDryRun('redrive', 3, entries, 2);
    expect(text.split('\n')[0]).toBe('dry run: would redrive 3 dead letters; nothing changed');
    expect(text).toContain('  12345-10  ');
    expect(text).toContain('  ... and 1 more (--json lists them)\n');
  });
  it('warns about missing ids', () => {
    expect(formatMissing('redrive', [])).toBe('');
    expect(formatMissing('purge', ['1-1'])).toContain('1 of the --ids is not in the dead-letter stream');
  });
});

describe('status --interval', () => {
  it('takes seconds, fractions allowed, within bounds', () => {
    expect(parseInterval(undefined)).toBeUndefined();
    expect(parseInterval('0.5')).toBe(0.5);
    expect(() => parseInterval('0.1')).toThrow(/--interval/);
    expect(() => parseInterval('x')).toThrow(/--interval/);
  });
});
