import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { decodeEntry } from '../../src/lib/envelope.ts';
import { PayloadTooLargeError, ValidationError } from '../../src/lib/errors.ts';
import { createEventRegistry } from '../../src/lib/event-registry.ts';
import { type PrepareOptions, prepareEvent } from '../../src/producers/prepare-event.ts';

const NOW = Date.UTC(2026, 10, 21, 10, 0, 0);
const registry = createEventRegistry([
  {
    type: 'payment.captured',
    v: 1,
    schema: z.object({ amountMinor: z.number().int().positive(), currency: z.string().length(3) }),
  },
  { type: 'note.added', v: 1, schema: z.object({ text: z.string().trim() }) },
]);
const options: PrepareOptions = {
  registry,
  maxPayloadBytes: 4096,
  newId: () => 'generated-1',
  now: () => NOW,
};

function rejection(input: unknown, opts: PrepareOptions = options) {
  const r = prepareEvent(input, opts);
  if (r.ok) throw new Error('expected a rejection');
  return r;
}

describe('prepareEvent', () => {
  it('fills defaults: generated id, v 1, key = id, ts = now', () => {
    const r = prepareEvent({ type: 'payment.captured', data: { amountMinor: 5, currency: 'EUR' } }, options);
    if (!r.ok) throw r.error;
    expect(r.envelope).toEqual({
      id: 'generated-1',
      type: 'payment.captured',
      v: 1,
      key: 'generated-1',
      ts: '2026-11-21T10:00:00.000Z',
      data: { amountMinor: 5, currency: 'EUR' },
    });
    expect(decodeEntry(r.fields)).toEqual({
      ok: true,
      envelope: r.envelope,
      dataText: JSON.stringify(r.envelope.data),
    });
    expect(r.size).toBe(Buffer.byteLength(r.fields.join('')));
  });

  it('keeps given fields and converts a Date ts', () => {
    const r = prepareEvent(
      {
        id: 'evt-1',
        type: 'payment.captured',
        v: 1,
        key: 'acct-9',
        ts: new Date(NOW - 1000),
        data: { amountMinor: 5, currency: 'EUR' },
        traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
      },
      options,
    );
    if (!r.ok) throw r.error;
    expect(r.envelope).toMatchObject({ id: 'evt-1', key: 'acct-9', ts: '2026-11-21T09:59:59.000Z' });
    expect(r.fields).toContain('traceparent');
  });

  it('publishes data as given, not as the schema transformed it', () => {
    const r = prepareEvent({ type: 'note.added', data: { text: '  hi  ' } }, options);
    if (!r.ok) throw r.error;
    expect(r.envelope.data).toEqual({ text: '  hi  ' });
  });

  it('reports envelope and schema issues together, each with its path', () => {
    const r = rejection({
      id: 'has space',
      type: 'payment.captured',
      ts: 'yesterday',
      data: { amountMinor: 0, currency: 'EURO' },
    });
    expect(r.id).toBe('has space');
    expect(r.error).toBeInstanceOf(ValidationError);
    const error = r.error as ValidationError;
    expect(error.reason).toBe('malformed_envelope');
    expect(error.issues.map((i) => i.path).sort()).toEqual(['data.amountMinor', 'data.currency', 'id', 'ts']);
    expect(error.message).toContain('data.amountMinor');
  });

  it('uses the registry reason when only the payload is wrong', () => {
    expect((rejection({ type: 'refund.issued', data: {} }).error as ValidationError).reason).toBe(
      'unknown_type',
    );
    expect((rejection({ type: 'payment.captured', v: 2, data: {} }).error as ValidationError).reason).toBe(
      'unsupported_version',
    );
    expect((rejection({ type: 'payment.captured', data: {} }).error as ValidationError).reason).toBe(
      'schema_violation',
    );
  });

  it('without a registry checks the envelope and payload shape only', () => {
    const r = prepareEvent({ type: 'anything.goes', data: { x: 1 } }, { ...options, registry: undefined });
    expect(r.ok).toBe(true);
  });

  it('refuses what a consumer would refuse on decode', () => {
    const noRegistry = { ...options, registry: undefined };
    const cases: Array<[unknown, string, string]> = [
      [null, 'malformed_envelope', ''],
      [[1], 'malformed_envelope', ''],
      [{ type: 't', data: [] }, 'schema_violation', 'data'],
      [{ type: 't' }, 'schema_violation', 'data'],
      [{ type: 't', data: {}, extra: 1 }, 'malformed_envelope', 'extra'],
      [{ type: 't', v: '1', data: {} }, 'malformed_envelope', 'v'],
      [{ type: 't', data: JSON.parse('{"a":{"__proto__":{}}}') }, 'forbidden_key', 'data.a.__proto__'],
      [{ type: 't', data: { big: 10n } }, 'invalid_json', 'data'],
      [{ type: 't', ts: new Date(Number.NaN), data: {} }, 'malformed_envelope', 'ts'],
      [{ type: 't', ts: '2026-02-30T10:00:00Z', data: {} }, 'malformed_envelope', 'ts'],
      [{ type: 't', ts: '2026-11-21T24:00:01Z', data: {} }, 'malformed_envelope', 'ts'],
      // Past 2^53 a caller's integer may already be rounded (2^53 + 1 arrives as 2^53): refused as the consumer would.
      [{ type: 't', data: { n: [1, 2 ** 53 + 2] } }, 'imprecise_number', 'data.n[1]'],
      [{ type: 't', data: { n: -(2 ** 60) } }, 'imprecise_number', 'data.n'],
    ];
    for (const [input, reason, path] of cases) {
      const error = rejection(input, noRegistry).error as ValidationError;
      expect(
        error.reason,
        JSON.stringify(input, (_, v) => (typeof v === 'bigint' ? 'n' : v)),
      ).toBe(reason);
      expect(error.issues.map((i) => i.path)).toContain(path);
    }
    let deep: Record<string, unknown> = {};
    const root = deep;
    for (let i = 0; i < 40; i++) {
      const next = {};
      deep.a = next;
      deep = next;
    }
    expect((rejection({ type: 't', data: root }, noRegistry).error as ValidationError).reason).toBe(
      'payload_too_deep',
    );
  });

  it('publishes any double a consumer reads back exactly, and every real calendar day', () => {
    const noRegistry = { ...options, registry: undefined };
    for (const n of [0.1 + 0.2, 1e21, -0, 5e-324, Number.MAX_VALUE, 2 ** 53 - 1, 1 / 3]) {
      const r = prepareEvent({ type: 't', data: { n } }, noRegistry);
      if (!r.ok) throw r.error;
      expect(decodeEntry(r.fields).ok).toBe(true);
    }
    expect(prepareEvent({ type: 't', ts: '2024-02-29T23:59:59Z', data: {} }, noRegistry).ok).toBe(true);
  });

  it('refuses an entry over the size limit with sizes in the error', () => {
    const r = rejection(
      { id: 'big-1', type: 't', data: { blob: 'é'.repeat(3000) } },
      { ...options, registry: undefined },
    );
    expect(r.id).toBe('big-1');
    expect(r.error).toBeInstanceOf(PayloadTooLargeError);
    const error = r.error as PayloadTooLargeError;
    expect(error.code).toBe('payload_too_large');
    expect(error.limit).toBe(4096);
    expect(error.size).toBeGreaterThan(6000);
  });
});
