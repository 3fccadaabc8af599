import { describe, expect, it } from 'vitest';
import {
  checkEnvelopeFields,
  DEFAULT_DECODE_LIMITS,
  decodeEntry,
  type Envelope,
  encodedSize,
  encodeEnvelope,
} from '../../src/lib/envelope.ts';
import { REASON_CODES, type ReasonCode } from '../../src/lib/errors.ts';

const envelope: Envelope = {
  id: '0190e6a0-7b1c-7b2a-8e3d-123456789abc',
  type: 'payment.captured',
  v: 3,
  key: 'acct-42',
  ts: '2026-11-21T10:00:00.000Z',
  data: { amountMinor: 1250, currency: 'EUR', note: 'café ☕', nested: { list: [1, { a: null }] } },
};

/** An encoded entry with one field's value replaced (or removed with `undefined`). */
function withField(name: string, value: string | undefined, base: Envelope = envelope): string[] {
  const fields = encodeEnvelope(base);
  const out: string[] = [];
  for (let i = 0; i < fields.length; i += 2) {
    if (fields[i] !== name) out.push(fields[i] as string, fields[i + 1] as string);
    else if (value !== undefined) out.push(name, value);
  }
  return out;
}

function reasonOf(fields: string[], limits = DEFAULT_DECODE_LIMITS): ReasonCode | 'ok' {
  const r = decodeEntry(fields, limits);
  return r.ok ? 'ok' : r.reason;
}

describe('envelope encoding', () => {
  it('encodes the documented field layout in wire order', () => {
    expect(encodeEnvelope(envelope)).toEqual([
      'id',
      envelope.id,
      'type',
      'payment.captured',
      'v',
      '3',
      'key',
      'acct-42',
      'ts',
      '2026-11-21T10:00:00.000Z',
      'data',
      JSON.stringify(envelope.data),
    ]);
    const traced = encodeEnvelope({
      ...envelope,
      traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
    });
    expect(traced.slice(-2)).toEqual([
      'traceparent',
      '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
    ]);
  });

  it('round-trips through decodeEntry, with and without traceparent', () => {
    expect(decodeEntry(encodeEnvelope(envelope))).toEqual({
      ok: true,
      envelope,
      dataText: JSON.stringify(envelope.data),
    });
    const traced = { ...envelope, traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' };
    expect(decodeEntry(encodeEnvelope(traced))).toEqual({
      ok: true,
      envelope: traced,
      dataText: JSON.stringify(traced.data),
    });
  });

  it('measures size in UTF-8 bytes of names and values', () => {
    expect(encodedSize(['id', 'é'])).toBe(4);
    expect(encodedSize(encodeEnvelope(envelope))).toBe(Buffer.byteLength(encodeEnvelope(envelope).join('')));
  });
});

describe('decodeEntry reason codes', () => {
  const cases: Array<[string, string[], ReasonCode, string]> = [
    ['no fields', [], 'malformed_envelope', ''],
    ['odd field count', [...encodeEnvelope(envelope), 'traceparent'], 'malformed_envelope', ''],
    ['unknown field', [...encodeEnvelope(envelope), 'extra', 'x'], 'malformed_envelope', 'extra'],
    ['repeated field', [...encodeEnvelope(envelope), 'id', 'x'], 'malformed_envelope', 'id'],
    ['missing field', withField('ts', undefined), 'malformed_envelope', 'ts'],
    ['bad id', withField('id', 'has space'), 'malformed_envelope', 'id'],
    ['bad type', withField('type', '9lives'), 'malformed_envelope', 'type'],
    ['version not decimal', withField('v', '01'), 'malformed_envelope', 'v'],
    ['version zero', withField('v', '0'), 'malformed_envelope', 'v'],
    ['key with control character', withField('key', 'a\nb'), 'malformed_envelope', 'key'],
    ['ts without zone', withField('ts', '2026-11-21T10:00:00'), 'malformed_envelope', 'ts'],
    ['impossible date', withField('ts', '2026-13-45T10:00:00Z'), 'malformed_envelope', 'ts'],
    [
      'bad traceparent',
      [...encodeEnvelope(envelope), 'traceparent', 'nope'],
      'malformed_envelope',
      'traceparent',
    ],
    ['data not JSON', withField('data', '{"a":'), 'invalid_json', 'data'],
    ['data an array', withField('data', '[1,2]'), 'schema_violation', 'data'],
    ['data null', withField('data', 'null'), 'schema_violation', 'data'],
    [
      'data too deep',
      withField('data', `${'{"a":'.repeat(40)}1${'}'.repeat(40)}`),
      'payload_too_deep',
      `data${'.a'.repeat(32)}`,
    ],
    [
      'forbidden key',
      withField('data', '{"x":{"__proto__":{"admin":true}}}'),
      'forbidden_key',
      'data.x.__proto__',
    ],
    [
      'constructor key in an array item',
      withField('data', '{"l":[{"constructor":1}]}'),
      'forbidden_key',
      'data.l[0].constructor',
    ],
  ];

  for (const [name, fields, reason, path] of cases) {
    it(`${name} -> ${reason}`, () => {
      const r = decodeEntry(fields);
      if (r.ok) throw new Error('expected a failure');
      expect(r.reason).toBe(reason);
      expect(r.issues.map((i) => i.path)).toContain(path);
      expect(r.message.length).toBeGreaterThan(0);
    });
  }

  it('oversize entries are refused before anything is parsed', () => {
    const big = withField('data', JSON.stringify({ blob: 'x'.repeat(5000) }));
    expect(reasonOf(big, { maxBytes: 4096, maxDepth: 32 })).toBe('oversize');
    expect(reasonOf(big, { maxBytes: 8192, maxDepth: 32 })).toBe('ok');
  });

  it('reports every bad envelope field at once', () => {
    const fields = withField('id', '', { ...envelope, type: '1x', ts: 'now' } as Envelope);
    const r = decodeEntry(fields);
    if (r.ok) throw new Error('expected a failure');
    expect(r.issues.map((i) => i.path).sort()).toEqual(['id', 'ts', 'type']);
  });

  it('every reason decodeEntry can return is in the catalogue, and each is reachable', () => {
    const reached = new Set(cases.map(([, fields]) => reasonOf(fields)));
    reached.add(
      reasonOf(withField('data', JSON.stringify({ b: 'x'.repeat(100) })), { maxBytes: 64, maxDepth: 8 }),
    );
    expect([...reached].sort()).toEqual(
      [
        'forbidden_key',
        'invalid_json',
        'malformed_envelope',
        'oversize',
        'payload_too_deep',
        'schema_violation',
      ].sort(),
    );
    for (const reason of reached) expect(REASON_CODES).toContain(reason);
  });

  it('is total: arbitrary field lists never throw', () => {
    const junk = ['', '\u0000', '{}', 'data', 'id', '1', '[]', '"x"', 'v', '{"__proto__":1}', 'ts', 'type'];
    let seed = 7;
    const rand = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed;
    };
    for (let n = 0; n < 2000; n++) {
      const fields = Array.from({ length: rand() % 16 }, () => junk[rand() % junk.length] as string);
      expect(() => decodeEntry(fields)).not.toThrow();
    }
  });
});

describe('checkEnvelopeFields', () => {
  it('accepts a valid envelope and names each invalid field', () => {
    expect(checkEnvelopeFields(envelope)).toEqual([]);
    const issues = checkEnvelopeFields({ id: 42, type: '', v: 1.5, key: '', ts: 'x', traceparent: 7 });
    expect(issues.map((i) => i.path)).toEqual(['id', 'type', 'v', 'key', 'ts', 'traceparent']);
  });

  it('accepts zone offsets and fractional seconds in ts', () => {
    for (const ts of [
      '2026-11-21T10:00:00Z',
      '2026-11-21T10:00:00.123456+02:00',
      '2026-11-21T10:00:00-05:30',
    ]) {
      expect(checkEnvelopeFields({ ...envelope, ts })).toEqual([]);
    }
  });
});
