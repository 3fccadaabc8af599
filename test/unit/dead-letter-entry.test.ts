import { describe, expect, it } from 'vitest';
import {
  type DeadLetterMeta,
  decodeDeadLetter,
  encodeDeadLetter,
  MAX_VERBATIM_ITEMS,
  sanitizeErrorMessage,
} from '../../src/lib/dead-letter-entry.ts';
import { entryIdTime } from '../../src/lib/redis/stream-ids.ts';

const meta: DeadLetterMeta = {
  sourceStream: 'streamsink:{payments}',
  sourceId: '1763700000000-3',
  group: 'streamsink',
  consumer: 'pod-1',
  reason: 'unsupported_currency',
  errorClass: 'PoisonMessageError',
  errorMessage: 'currency JPY is not allowed',
  deliveryCount: 1,
  firstSeen: '2025-11-21T04:40:00.000Z',
  deadLetteredAt: '2026-11-21T03:00:00.000Z',
  pipeline: 'payments',
  pipelineVersion: '1',
  eventType: 'payment.captured',
  eventId: '0193-abc',
};

function roundTrip(original: string[], m: DeadLetterMeta = meta) {
  const decoded = decodeDeadLetter(encodeDeadLetter(m, original));
  if (!decoded.ok) throw new Error(decoded.message);
  return decoded.value;
}

describe('dead-letter entry layout', () => {
  it('round-trips a well-formed envelope and its context', () => {
    const original = ['id', '0193-abc', 'type', 'payment.captured', 'v', '1', 'data', '{"currency":"JPY"}'];
    const fields = encodeDeadLetter(meta, original);
    expect(fields.slice(0, 2)).toEqual(['dlq.v', '1']);
    expect(fields.slice(-original.length - 2)).toEqual(['dlq.original_fields', '4', ...original]);
    expect(roundTrip(original)).toEqual({ meta, original });
  });

  it('recovers originals with clashing, duplicate, empty and binary-looking field names exactly', () => {
    const weird = [
      ['dlq.reason', 'forged', 'dlq.original_fields', '99', 'dlq.v', '2'],
      ['id', 'a', 'id', 'b', 'id', 'a'],
      ['', '', ' ', '\u0000', '\n', 'ünïcødé 🎉'],
      [],
      ['data', '{"a":'],
    ];
    for (const original of weird) expect(roundTrip(original).original).toEqual(original);
  });

  it('keeps optional fields optional', () => {
    const { eventType: _t, eventId: _e, ...bare } = meta;
    const fields = encodeDeadLetter(bare, ['x', 'y']);
    expect(fields).not.toContain('dlq.type');
    expect(roundTrip(['x', 'y'], bare).meta).toEqual(bare);
  });

  it('stores originals too long to pass through Lua as JSON, still exactly recoverable', () => {
    const original = Array.from({ length: MAX_VERBATIM_ITEMS + 2 }, (_, i) => `f${i}`);
    const fields = encodeDeadLetter(meta, original);
    expect(fields.length).toBeLessThan(40);
    expect(fields).toContain('dlq.original_json');
    expect(roundTrip(original).original).toEqual(original);
  });

  it('refuses entries that are not dead letters', () => {
    expect(decodeDeadLetter(['id', 'a', 'type', 'b']).ok).toBe(false);
    expect(decodeDeadLetter([]).ok).toBe(false);
    const truncated = encodeDeadLetter(meta, ['a', 'b', 'c', 'd']).slice(0, -2);
    expect(decodeDeadLetter(truncated)).toMatchObject({
      ok: false,
      message: expect.stringContaining('expected 4'),
    });
    const badReason = encodeDeadLetter(meta, []).map((f) =>
      f === 'unsupported_currency' ? 'Not A Reason!' : f,
    );
    expect(decodeDeadLetter(badReason).ok).toBe(false);
  });

  it('truncates and scrubs error messages', () => {
    const stored = sanitizeErrorMessage(
      'connect to postgres://app:hunter2@db:5432/x failed\npassword=hunter2 token: abc',
    );
    expect(stored).not.toContain('hunter2');
    expect(stored).not.toContain('abc');
    expect(stored).not.toContain('\n');
    expect(stored).toContain('postgres://***@db:5432/x');
    expect(sanitizeErrorMessage('x'.repeat(1000))).toHaveLength(500);
    const fields = encodeDeadLetter({ ...meta, errorMessage: 'y'.repeat(5000) }, []);
    expect(fields[fields.indexOf('dlq.error_message') + 1]).toHaveLength(500);
  });

  it('reads the time out of an entry id', () => {
    expect(entryIdTime('1763700000000-3')).toBe('2025-11-21T04:40:00.000Z');
    expect(entryIdTime('nonsense')).toBeUndefined();
  });
});
