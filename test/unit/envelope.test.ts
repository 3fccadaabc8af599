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

/** An encoded entry with two fields' (name, value) pairs swapped. */
function swapped(a: string, b: string): string[] {
  const fields = encodeEnvelope(envelope);
  const i = fields.indexOf(a);
  const j = fields.indexOf(b);
  const out = [...fields];
  out.splice(i, 2, b, fields[j + 1] as string);
  out.splice(j, 2, a, fields[i + 1] as string);
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
    ['February 30th', withField('ts', '2026-02-30T10:00:00Z'), 'malformed_envelope', 'ts'],
    ['February 29th of a common year', withField('ts', '2100-02-29T10:00:00Z'), 'malformed_envelope', 'ts'],
    ['April 31st', withField('ts', '2026-04-31T10:00:00Z'), 'malformed_envelope', 'ts'],
    ['month 13', withField('ts', '2026-13-01T10:00:00Z'), 'malformed_envelope', 'ts'],
    ['month 0', withField('ts', '2026-00-10T10:00:00Z'), 'malformed_envelope', 'ts'],
    ['day 0', withField('ts', '2026-01-00T10:00:00Z'), 'malformed_envelope', 'ts'],
    ['year 0', withField('ts', '0000-01-01T10:00:00Z'), 'malformed_envelope', 'ts'],
    ['hour 24', withField('ts', '2026-01-01T24:00:00Z'), 'malformed_envelope', 'ts'],
    ['24:00:01', withField('ts', '2026-01-01T24:00:01Z'), 'malformed_envelope', 'ts'],
    ['minute 60', withField('ts', '2026-01-01T10:60:00Z'), 'malformed_envelope', 'ts'],
    ['leap second', withField('ts', '2026-12-31T23:59:60Z'), 'malformed_envelope', 'ts'],
    ['offset beyond 15:59', withField('ts', '2026-01-01T10:00:00+16:00'), 'malformed_envelope', 'ts'],
    ['offset minutes 60', withField('ts', '2026-01-01T10:00:00-05:60'), 'malformed_envelope', 'ts'],
    ['fields out of order', swapped('id', 'type'), 'malformed_envelope', 'id'],
    ['data before ts', swapped('ts', 'data'), 'malformed_envelope', 'ts'],
    [
      'traceparent first',
      ['traceparent', '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01', ...encodeEnvelope(envelope)],
      'malformed_envelope',
      'id',
    ],
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
      'duplicate key',
      withField('data', '{"amountMinor":1,"amountMinor":1000000}'),
      'duplicate_key',
      'data.amountMinor',
    ],
    [
      'duplicate key, nested in an array',
      withField('data', '{"a":{"l":[1,{"x":1,"y":":,\\"x\\":","x":2}]}}'),
      'duplicate_key',
      'data.a.l[1].x',
    ],
    [
      'duplicate key spelled with an escape',
      withField('data', '{"ab":1,"a\\u0062":2}'),
      'duplicate_key',
      'data.ab',
    ],
    [
      'decimal beyond a double',
      withField('data', '{"amount":100.0000000000000001}'),
      'imprecise_number',
      'data.amount',
    ],
    ['integer beyond 2^53', withField('data', '{"n":[9007199254740993]}'), 'imprecise_number', 'data.n[0]'],
    ['integer 2^53', withField('data', '{"n":9007199254740992}'), 'imprecise_number', 'data.n'],
    [
      'negative integer beyond 2^53',
      withField('data', '{"n":-18446744073709551616}'),
      'imprecise_number',
      'data.n',
    ],
    ['number overflowing a double', withField('data', '{"n":1e400}'), 'imprecise_number', 'data.n'],
    ['number underflowing a double', withField('data', '{"n":-2.5e-324}'), 'imprecise_number', 'data.n'],
    [
      'seventeen significant digits',
      withField('data', '{"n":0.12345678901234567}'),
      'imprecise_number',
      'data.n',
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
        'duplicate_key',
        'imprecise_number',
      ].sort(),
    );
    for (const reason of reached) expect(REASON_CODES).toContain(reason);
  });

  it('accepts exact numbers in any notation, and repeated keys in different objects', () => {
    const accepted = [
      '{"a":1.50,"b":15e-1,"c":-0,"d":0.30000000000000004,"e":1e21,"f":1E+21}',
      '{"g":-9007199254740991,"h":9007199254740991.0,"i":0.1,"j":5e-324,"k":1.7976931348623157e308}',
      '{"l":12345678901234500000e-17,"m":0.000000000000000000001,"n":100.00000000000000000}',
      '{"x":{"a":1},"y":{"a":2},"z":[{"a":1},{"a":2}],"s":"a:b,\\"a\\":1","e":{},"f":[]}',
    ];
    for (const data of accepted) expect(reasonOf(withField('data', data)), data).toBe('ok');
  });

  it('accepts the documented time formats and the days that exist', () => {
    for (const ts of [
      '2024-02-29T00:00:00Z',
      '2000-02-29T23:59:59.999999999+15:59',
      '0001-01-01T00:00:00-15:59',
      '9999-12-31T23:59:59Z',
      '2026-04-30T12:00:00.5+05:45',
    ])
      expect(reasonOf(withField('ts', ts)), ts).toBe('ok');
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
