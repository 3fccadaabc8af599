import { describe, expect, it } from 'vitest';
import type { DlqEntry } from '../../../src/admin/dlq.ts';
import {
  matchesConsoleFilter,
  parseFilter,
  parseIds,
  parseTime,
  sdkSelector,
} from '../../../src/console/dlq-filter.ts';
import { startBound } from '../../../src/console/dlq-page.ts';
import { parseProxyRoles, parseTokenList } from '../../../src/lib/config/console.ts';

const entry = (id: string, meta: Partial<DlqEntry['meta']>): DlqEntry => ({
  id,
  original: [],
  meta: {
    sourceStream: 's',
    sourceId: '1-0',
    group: 'g',
    consumer: 'c',
    reason: 'invalid_json',
    errorClass: 'E',
    errorMessage: '',
    deliveryCount: 1,
    firstSeen: '',
    deadLetteredAt: '',
    pipeline: 'p',
    pipelineVersion: '1',
    ...meta,
  },
});

describe('console filters', () => {
  it('parses every filter and reads datetime-local as UTC', () => {
    const { filter, errors, before } = parseFilter({
      reason: 'invalid_json',
      type: 'payment.captured',
      eventId: 'e-1',
      since: '2026-11-21T10:00',
      until: '2026-11-21T11:00:30Z',
      before: '1700000000000-3',
    });
    expect(errors).toEqual([]);
    expect(filter).toEqual({
      reason: 'invalid_json',
      type: 'payment.captured',
      eventId: 'e-1',
      since: new Date('2026-11-21T10:00:00Z'),
      until: new Date('2026-11-21T11:00:30Z'),
    });
    expect(before).toBe('1700000000000-3');
  });

  it('names every bad parameter and ignores it', () => {
    const { filter, errors } = parseFilter({
      reason: 'unsuported_currency',
      since: 'yesterday',
      before: 'nope',
      type: ' ',
    });
    expect(filter).toEqual({});
    expect(errors).toHaveLength(3);
    expect(errors[0]).toContain('did you mean unsupported_currency?');
    expect(errors[1]).toContain('since');
    expect(errors[2]).toContain('before');
  });

  it('refuses a range that ends before it starts', () => {
    const { filter, errors } = parseFilter({ since: '2026-11-21T11:00', until: '2026-11-21T10:00' });
    expect(errors).toEqual(['since must be before until']);
    expect(filter.until).toBeUndefined();
  });

  it('parses times strictly', () => {
    expect(parseTime('2026-11-21T10:00')?.toISOString()).toBe('2026-11-21T10:00:00.000Z');
    expect(parseTime('2026-11-21T10:00:00+02:00')?.toISOString()).toBe('2026-11-21T08:00:00.000Z');
    expect(parseTime('1700000000')).toBeUndefined();
    expect(parseTime('2026-13-45T99:00')).toBeUndefined();
  });

  it('matches event id and the upper time bound on top of the SDK filter', () => {
    const e = entry('1700000000000-0', { eventId: 'e-1', eventType: 't' });
    expect(matchesConsoleFilter(e, { eventId: 'e-1' })).toBe(true);
    expect(matchesConsoleFilter(e, { eventId: 'e-2' })).toBe(false);
    expect(matchesConsoleFilter(e, { until: new Date(1_700_000_000_001) })).toBe(true);
    expect(matchesConsoleFilter(e, { until: new Date(1_700_000_000_000) })).toBe(false);
    expect(matchesConsoleFilter(e, { since: new Date(1_700_000_000_000), type: 't' })).toBe(true);
    expect(matchesConsoleFilter(e, { reason: 'oversize' })).toBe(false);
  });

  it('uses the SDK selector when it can express the filter, ids otherwise', () => {
    expect(sdkSelector({})).toEqual({ all: true });
    expect(sdkSelector({ reason: 'invalid_json' })).toEqual({ reason: 'invalid_json' });
    expect(sdkSelector({ reason: 'invalid_json', type: 't' })).toEqual({ reason: 'invalid_json', type: 't' });
    expect(sdkSelector({ eventId: 'e' })).toBeUndefined();
    expect(sdkSelector({ since: new Date(0) })).toBeUndefined();
  });

  it('reads selected ids strictly', () => {
    expect(parseIds(['1-0', '2-0', '1-0'])).toEqual(['1-0', '2-0']);
    expect(parseIds('3-1')).toEqual(['3-1']);
    expect(parseIds(undefined)).toEqual([]);
    expect(() => parseIds(['1-0', '$'])).toThrow(/not a stream entry id/);
  });

  it('starts a page below both the cursor and the upper time bound', () => {
    expect(startBound(undefined, undefined)).toBeUndefined();
    expect(startBound('5-0', undefined)).toBe('(5-0');
    expect(startBound(undefined, new Date(7))).toBe('(7-0');
    expect(startBound('5-0', new Date(7))).toBe('(5-0');
    expect(startBound('9-0', new Date(7))).toBe('(7-0');
  });
});

describe('console token and role lists', () => {
  it('parses name:role:token items, comma- or newline-separated, with comments', () => {
    const { tokens, problems } = parseTokenList(
      'olivia:operator:aaaaaaaaaaaaaaaa:with:colons\n# a comment\nvictor:viewer:bbbbbbbbbbbbbbbb, ',
    );
    expect(problems).toEqual([]);
    expect(tokens).toEqual([
      { name: 'olivia', role: 'operator', token: 'aaaaaaaaaaaaaaaa:with:colons' },
      { name: 'victor', role: 'viewer', token: 'bbbbbbbbbbbbbbbb' },
    ]);
  });

  it('names each bad item without ever quoting its token', () => {
    const secret = 'short-secret';
    const { tokens, problems } = parseTokenList(
      `a:admin:${'x'.repeat(20)},b:viewer:${secret},c:viewer:${'y'.repeat(16)},c:viewer:${'z'.repeat(16)},d:viewer:${'y'.repeat(16)},bad name:viewer:${'w'.repeat(16)}`,
    );
    expect(tokens.map((t) => t.name)).toEqual(['c']);
    expect(problems).toHaveLength(5);
    expect(problems.join('\n')).not.toContain(secret);
    expect(problems.join('\n')).not.toContain('x'.repeat(16));
  });

  it('parses proxy roles', () => {
    expect(parseProxyRoles('alice:operator, *:viewer')).toEqual({
      roles: new Map([
        ['alice', 'operator'],
        ['*', 'viewer'],
      ]),
      problems: [],
    });
    expect(parseProxyRoles('alice:root').problems).toHaveLength(1);
  });
});
