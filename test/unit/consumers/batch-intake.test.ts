import { describe, expect, it } from 'vitest';
import { intakeBatch } from '../../../src/consumers/batch-intake.ts';
import { createPipeline } from '../../../src/consumers/pipelines/index.ts';
import type { StreamEntry } from '../../../src/consumers/types.ts';
import { DEFAULT_DECODE_LIMITS, encodeEnvelope } from '../../../src/lib/envelope.ts';

const pipeline = createPipeline('payments', { currencies: ['EUR'] });
const options = { maxDeliveries: 3, limits: DEFAULT_DECODE_LIMITS, pipeline, stream: 'payments' };

function entry(id: string, data: Record<string, unknown>, extra: Partial<StreamEntry> = {}): StreamEntry {
  const fields = encodeEnvelope({
    id: `evt-${id}`,
    type: 'payment.captured',
    v: 1,
    key: 'pay-1',
    ts: '2026-11-21T10:00:00.000Z',
    data: { paymentId: 'pay-1', accountId: 'acct-1', amountMinor: 5, currency: 'EUR', ...data },
  });
  return { id, fields, deliveryCount: 1, ...extra };
}

describe('intakeBatch', () => {
  it('sends each kind of bad entry to the dead-letter stream with its reason, and the rest on, in order', () => {
    const { items, dead } = intakeBatch(
      [
        entry('1-0', {}),
        entry('2-0', {}, { deliveryCount: 4 }),
        entry('3-0', { currency: 'JPY' }),
        { id: '4-0', fields: ['id', 'x', 'data', '{'], deliveryCount: 1 },
        entry('5-0', {}, { invalidUtf8: true }),
        entry('6-0', { amountMinor: 7 }),
      ],
      options,
    );
    expect(items.map((i) => i.entry.id)).toEqual(['1-0', '6-0']);
    expect(dead.map((d) => [d.entry.id, d.reason])).toEqual([
      ['2-0', 'max_deliveries_exceeded'],
      ['3-0', 'unsupported_currency'],
      ['4-0', 'malformed_envelope'],
      ['5-0', 'invalid_utf8'],
    ]);
    // The event's id and type travel with the record, from the envelope or the raw fields.
    expect(dead[1]).toMatchObject({ eventId: 'evt-3-0', eventType: 'payment.captured' });
    expect(dead[2]).toMatchObject({ eventId: 'x' });
  });

  it('keeps the payload text as read only when no schema transformed the data', () => {
    const archive = { ...options, pipeline: createPipeline('event-log', { currencies: ['EUR'] }) };
    const [raw] = intakeBatch([entry('1-0', {})], archive).items;
    expect(raw?.dataText).toBe(JSON.stringify(raw?.envelope.data));
    const [parsed] = intakeBatch([entry('1-0', {})], options).items;
    expect(parsed?.dataText).toBeUndefined();
  });
});
