import { describe, expect, it } from 'vitest';
import { createPaymentsRegistry, parsePaymentEvent } from '../../src/consumers/pipelines/payments/events.ts';
import { decodeEntry, encodeEnvelope } from '../../src/lib/envelope.ts';
import { PoisonMessageError } from '../../src/lib/errors.ts';
import { BAD_KINDS, generateBadEntries, generateSdkBadInputs } from '../helpers/bad-input.ts';

const LIMITS = { maxBytes: 4096, maxDepth: 32 };
const registry = createPaymentsRegistry();
const currencies = new Set(['EUR', 'USD', 'GBP']);

/** The pure path an entry takes in a payments worker: decode, then the payments contract. */
function reasonFor(fields: string[]): string {
  const decoded = decodeEntry(fields, LIMITS);
  if (!decoded.ok) return decoded.reason;
  try {
    parsePaymentEvent(decoded.envelope, registry, currencies);
    return 'accepted';
  } catch (error) {
    if (error instanceof PoisonMessageError) return error.reason;
    throw error;
  }
}

// ioredis hands field values back as UTF-8-decoded strings; invalid bytes become U+FFFD.
const asRedisReturns = (fields: ReadonlyArray<string | Buffer>) =>
  fields.map((f) => (typeof f === 'string' ? f : f.toString('utf8')));

describe('bad-input corpus through the pure decode path', () => {
  const opts = { maxPayloadBytes: LIMITS.maxBytes, prefix: 'unit' };

  it('rejects every raw corpus kind with one of its expected reasons', () => {
    const entries = generateBadEntries(BAD_KINDS.length * 40, 7, opts);
    const wrong: string[] = [];
    for (const e of entries) {
      const reason = reasonFor(asRedisReturns(e.fields));
      if (reason === 'accepted' || !(e.reasons as readonly string[]).includes(reason))
        wrong.push(`${e.kind}: got ${reason}`);
    }
    expect(wrong).toEqual([]);
  });

  it('rejects every SDK-publishable bad event with its expected reason', () => {
    const wrong: string[] = [];
    for (const e of generateSdkBadInputs(90, 7, opts)) {
      const reason = reasonFor(encodeEnvelope({ ts: '2026-11-21T10:00:00.000Z', ...e.input }));
      if (reason === 'accepted' || !(e.reasons as readonly string[]).includes(reason))
        wrong.push(`${e.kind}: got ${reason}`);
    }
    expect(wrong).toEqual([]);
  });

  it('leaves Object.prototype untouched after decoding __proto__ and constructor payloads', () => {
    const before = Object.getOwnPropertyNames(Object.prototype).sort();
    for (const e of generateBadEntries(BAD_KINDS.length * 20, 11, opts)) reasonFor(asRedisReturns(e.fields));
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.getOwnPropertyNames(Object.prototype).sort()).toEqual(before);
  });
});
