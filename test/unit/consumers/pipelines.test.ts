import { describe, expect, it } from 'vitest';
import { splitRepeats } from '../../../src/consumers/inbox.ts';
import { pgErrorText } from '../../../src/consumers/pg-sink.ts';
import { createPipeline } from '../../../src/consumers/pipelines/index.ts';
import type { AcceptedItem } from '../../../src/consumers/types.ts';
import type { Envelope } from '../../../src/lib/envelope.ts';
import { PoisonMessageError } from '../../../src/lib/errors.ts';

const WHERE = { entryId: '1-0', stream: 'payments' };

function envelope(overrides: Partial<Envelope> = {}, data: Record<string, unknown> = {}): Envelope {
  return {
    id: 'evt-1',
    type: 'payment.captured',
    v: 1,
    key: 'pay-1',
    ts: '2026-11-21T10:00:00.000Z',
    data: { paymentId: 'pay-1', accountId: 'acc-1', amountMinor: 1250, currency: 'EUR', ...data },
    ...overrides,
  };
}

describe('payments pipeline accept', () => {
  const pipeline = createPipeline('payments', { currencies: ['EUR', 'USD'] });

  it('accepts each of the three event types at version 1', () => {
    for (const type of ['payment.authorized', 'payment.captured', 'payment.refunded']) {
      expect(pipeline.accept(envelope({ type }), WHERE)).toMatchObject({ ok: true });
    }
    expect(pipeline.registry?.has('payment.refunded', 1)).toBe(true);
  });

  const refusals: Array<[string, Envelope, string]> = [
    ['an unknown type', envelope({ type: 'payment.voided' }), 'unknown_type'],
    ['an unsupported version', envelope({ v: 2 }), 'unsupported_version'],
    ['a negative amount', envelope({}, { amountMinor: -5 }), 'schema_violation'],
    ['a zero amount', envelope({}, { amountMinor: 0 }), 'schema_violation'],
    ['a fractional amount', envelope({}, { amountMinor: 1.5 }), 'schema_violation'],
    ['an amount beyond safe integers', envelope({}, { amountMinor: 2 ** 53 }), 'schema_violation'],
    ['an amount given as a string', envelope({}, { amountMinor: '12' }), 'schema_violation'],
    ['a missing accountId', envelope({}, { accountId: undefined }), 'schema_violation'],
    ['a lowercase currency', envelope({}, { currency: 'eur' }), 'schema_violation'],
    ['a key other than paymentId', envelope({ key: 'other' }), 'schema_violation'],
    ['a currency not configured', envelope({}, { currency: 'GBP' }), 'unsupported_currency'],
  ];
  it.each(refusals)('refuses %s as poison with its reason code', (_what, env, reason) => {
    const result = pipeline.accept(env, WHERE);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.error).toBeInstanceOf(PoisonMessageError);
    expect(result.error.reason).toBe(reason);
  });

  it('names the offending field in the poison message', () => {
    const result = pipeline.accept(envelope({}, { amountMinor: -5 }), WHERE);
    expect(result.ok || result.error.message).toContain('data.amountMinor');
  });
});

describe('event-log pipeline accept', () => {
  it('accepts any well-formed envelope, whatever its type', () => {
    const pipeline = createPipeline('event-log', { currencies: ['EUR'] });
    expect(
      pipeline.accept(envelope({ type: 'anything.at.all', v: 7 }, { free: ['form'] }), WHERE),
    ).toMatchObject({
      ok: true,
    });
    expect(pipeline.registry).toBeUndefined();
    expect(pipeline.name).toBe('event-log');
  });
});

describe('splitRepeats', () => {
  it('keeps the first occurrence of each event id, in order, and returns the repeats', () => {
    const item = (id: string, entryId: string): AcceptedItem => ({
      entry: { id: entryId, fields: [], deliveryCount: 1 },
      envelope: envelope({ id }),
    });
    const { unique, repeats } = splitRepeats([item('a', '1-0'), item('b', '2-0'), item('a', '3-0')]);
    expect(unique.map((i) => i.entry.id)).toEqual(['1-0', '2-0']);
    expect(repeats.map((i) => i.entry.id)).toEqual(['3-0']);
  });

  it('sets a repeat with other content apart as a conflict, and one in another key order as a repeat', () => {
    const item = (entryId: string, env: Envelope): AcceptedItem => ({
      entry: { id: entryId, fields: [], deliveryCount: 1 },
      envelope: env,
    });
    const first = envelope({ id: 'a' });
    const reordered = { ...first, data: Object.fromEntries(Object.entries(first.data as object).reverse()) };
    const { unique, repeats, conflicts } = splitRepeats([
      item('1-0', first),
      item('2-0', reordered),
      item('3-0', envelope({ id: 'a' }, { amountMinor: 1 })),
      item('4-0', envelope({ id: 'a', key: 'other' })),
      item('5-0', envelope({ id: 'a', ts: '2027-01-01T00:00:00.000Z' })),
    ]);
    expect(unique.map((i) => i.entry.id)).toEqual(['1-0']);
    expect(repeats.map((i) => i.entry.id)).toEqual(['2-0', '5-0']);
    expect(conflicts.map((i) => i.entry.id)).toEqual(['3-0', '4-0']);
  });
});

describe('pgErrorText', () => {
  it('leads with the SQLSTATE and cuts long messages', () => {
    const error = Object.assign(new Error('unsupported Unicode escape sequence'), { code: '22P05' });
    expect(pgErrorText(error)).toBe('22P05 unsupported Unicode escape sequence');
    const long = Object.assign(new Error('x'.repeat(1000)), { code: '23514' });
    expect(pgErrorText(long).length).toBeLessThanOrEqual(300);
  });
});
