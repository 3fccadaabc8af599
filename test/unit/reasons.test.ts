import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { decideOutcome, deadLetterReason as reasonOf } from '../../src/consumers/outcome.ts';
import { poisonReason } from '../../src/consumers/reasons.ts';
import { decodeEntry } from '../../src/lib/envelope.ts';
import {
  PayloadTooLargeError,
  PoisonMessageError,
  TransientError,
  ValidationError,
} from '../../src/lib/errors.ts';
import { createEventRegistry } from '../../src/lib/event-registry.ts';

/** A node-postgres DatabaseError look-alike: classification reads only `code`. */
function pgError(code: string): Error {
  return Object.assign(new Error(`pg says ${code}`), { name: 'DatabaseError', code });
}

/** What the worker does with a failed entry: the reason it dead-letters it under, or undefined (kept). */
function deadLetterReason(input: { error: unknown; deliveryCount: number; maxDeliveries: number }) {
  return decideOutcome(input) === 'dead-letter' ? reasonOf(input.error) : undefined;
}

const base = [
  'id',
  'e1',
  'type',
  'payment.captured',
  'v',
  '1',
  'key',
  'p1',
  'ts',
  '2026-11-21T10:00:00.000Z',
];

describe('reason classification', () => {
  it('decode failures carry their own reason codes', () => {
    const cases: Array<[string[], string]> = [
      [[...base, 'data', '{not json'], 'invalid_json'],
      [[...base], 'malformed_envelope'],
      [[...base, 'data', '{}', 'extra', 'x'], 'malformed_envelope'],
      [[...base, 'data', '[1]'], 'schema_violation'],
      [[...base, 'data', '{"__proto__":{}}'], 'forbidden_key'],
      [[...base, 'data', JSON.stringify({ a: 'x'.repeat(2000) })], 'oversize'],
    ];
    for (const [fields, reason] of cases) {
      const decoded = decodeEntry(fields, { maxBytes: 1000, maxDepth: 4 });
      expect(decoded.ok ? 'ok' : decoded.reason, JSON.stringify(fields).slice(0, 80)).toBe(reason);
    }
  });

  it('registry failures: unknown type, unsupported version, schema violation', () => {
    const registry = createEventRegistry([
      { type: 'payment.captured', v: 1, schema: z.object({ n: z.number() }) },
    ]);
    const check = (type: string, v: number, data: Record<string, unknown>) => {
      const r = registry.check({ type, v, data });
      return r.ok ? 'ok' : r.reason;
    };
    expect(check('payment.voided', 1, { n: 1 })).toBe('unknown_type');
    expect(check('payment.captured', 2, { n: 1 })).toBe('unsupported_version');
    expect(check('payment.captured', 1, { n: 'one' })).toBe('schema_violation');
    expect(check('payment.captured', 1, { n: 1 })).toBe('ok');
  });

  it('typed poison errors dead-letter at once with the reason they carry', () => {
    const poison = new PoisonMessageError('unsupported_currency', 'currency JPY is not allowed');
    expect(poisonReason(poison)).toBe('unsupported_currency');
    expect(deadLetterReason({ error: poison, deliveryCount: 1, maxDeliveries: 5 })).toBe(
      'unsupported_currency',
    );
    const invalid = new ValidationError('schema_violation', [
      { path: 'data.amountMinor', message: 'expected int' },
    ]);
    expect(deadLetterReason({ error: invalid, deliveryCount: 1, maxDeliveries: 5 })).toBe('schema_violation');
    expect(
      deadLetterReason({ error: new PayloadTooLargeError(10, 5), deliveryCount: 1, maxDeliveries: 5 }),
    ).toBe('oversize');
  });

  it('Postgres data (22) and constraint (23) errors are data_error, at once', () => {
    for (const code of ['22003', '22P02', '23505', '23514']) {
      expect(deadLetterReason({ error: pgError(code), deliveryCount: 1, maxDeliveries: 5 })).toBe(
        'data_error',
      );
    }
  });

  it('transient failures never dead-letter, whatever the delivery count', () => {
    for (const error of [
      new TransientError('redis reconnecting'),
      pgError('40001'),
      pgError('40P01'),
      pgError('08006'),
      pgError('57P01'),
      Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }),
      new Error('Connection terminated unexpectedly'),
    ]) {
      expect(
        deadLetterReason({ error, deliveryCount: 1000, maxDeliveries: 5 }),
        String(error),
      ).toBeUndefined();
    }
  });

  it('other failures retry until the delivery count reaches the maximum', () => {
    const bug = new TypeError('cannot read properties of undefined');
    expect(deadLetterReason({ error: bug, deliveryCount: 1, maxDeliveries: 5 })).toBeUndefined();
    expect(deadLetterReason({ error: bug, deliveryCount: 4, maxDeliveries: 5 })).toBeUndefined();
    expect(deadLetterReason({ error: bug, deliveryCount: 5, maxDeliveries: 5 })).toBe(
      'max_deliveries_exceeded',
    );
    expect(deadLetterReason({ error: pgError('42P01'), deliveryCount: 5, maxDeliveries: 5 })).toBe(
      'max_deliveries_exceeded',
    );
    expect(deadLetterReason({ error: 'a string', deliveryCount: 1, maxDeliveries: 1 })).toBe(
      'max_deliveries_exceeded',
    );
  });
});
