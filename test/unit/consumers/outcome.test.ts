import { describe, expect, it } from 'vitest';
import { deadLetterReason, decideOutcome } from '../../../src/consumers/outcome.ts';
import { PoisonMessageError, TransientError } from '../../../src/lib/errors.ts';

const pgError = (code: string) => Object.assign(new Error(`pg ${code}`), { code });

describe('decideOutcome', () => {
  it('retries transient errors however often they were delivered', () => {
    const error = new TransientError('connection lost');
    expect(decideOutcome({ error, deliveryCount: 1, maxDeliveries: 5 })).toBe('retry');
    expect(decideOutcome({ error, deliveryCount: 50, maxDeliveries: 5 })).toBe('retry');
  });
  it('retries Postgres connection loss, deadlock and serialization failures', () => {
    for (const code of ['08006', '40P01', '40001', '57P01', 'ECONNREFUSED']) {
      expect(decideOutcome({ error: pgError(code), deliveryCount: 9, maxDeliveries: 5 })).toBe('retry');
    }
  });
  it('retries the worker session timeouts (lock, statement, idle in transaction) without ever dead-lettering', () => {
    for (const code of ['55P03', '57014', '25P03']) {
      expect(decideOutcome({ error: pgError(code), deliveryCount: 1, maxDeliveries: 5 })).toBe('retry');
      expect(decideOutcome({ error: pgError(code), deliveryCount: 99, maxDeliveries: 5 })).toBe('retry');
    }
  });
  it('dead-letters typed poison at once', () => {
    const error = new PoisonMessageError('unsupported_currency', 'XYZ');
    expect(decideOutcome({ error, deliveryCount: 1, maxDeliveries: 5 })).toBe('dead-letter');
    expect(deadLetterReason(error)).toBe('unsupported_currency');
  });
  it('dead-letters Postgres data and constraint errors as data_error', () => {
    const error = pgError('22003');
    expect(decideOutcome({ error, deliveryCount: 1, maxDeliveries: 5 })).toBe('dead-letter');
    expect(deadLetterReason(error)).toBe('data_error');
  });
  it('leaves unknown failures pending until deliveries run out', () => {
    const error = new Error('bug');
    expect(decideOutcome({ error, deliveryCount: 1, maxDeliveries: 3 })).toBe('retry-later');
    expect(decideOutcome({ error, deliveryCount: 2, maxDeliveries: 3 })).toBe('retry-later');
    expect(decideOutcome({ error, deliveryCount: 3, maxDeliveries: 3 })).toBe('dead-letter');
    expect(deadLetterReason(error)).toBe('max_deliveries_exceeded');
  });
  it('treats an undefined-table error as unknown, not as poison', () => {
    expect(decideOutcome({ error: pgError('42P01'), deliveryCount: 1, maxDeliveries: 5 })).toBe(
      'retry-later',
    );
  });
});
