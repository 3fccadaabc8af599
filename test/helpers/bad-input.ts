import type { ReasonCode } from '../../src/lib/errors.ts';
import { createRng, pick, randomInt } from './payments-model.ts';

/**
 * A generated corpus of malformed stream entries for the payments pipeline, for the bad-input test and the
 * chaos soak's poison. Each entry is a raw field list (Buffers where the bytes are not valid UTF-8) to XADD
 * as is, with the reason codes it may be dead-lettered under (some kinds admit more than one, e.g. random
 * bytes that happen to parse as a JSON number). Every kind is certainly bad: none is a valid payment event.
 */
export interface BadEntry {
  kind: string;
  fields: Array<string | Buffer>;
  reasons: readonly ReasonCode[];
  /**
   * Reasons a worker reading it from Redis may give, when they differ from what decoding the field list says:
   * bytes that are not UTF-8 are seen as such there (`invalid_utf8`), while decodeEntry only sees U+FFFD.
   */
  wireReasons?: readonly ReasonCode[];
}

export interface BadInputOptions {
  /** STREAMSINK_MAX_PAYLOAD_BYTES of the worker under test: oversize entries are built just over it. */
  maxPayloadBytes: number;
  /** Prefix of event ids and payment ids, unique per run. */
  prefix: string;
}

type Rng = () => number;
type Maker = (i: number, rng: Rng, o: BadInputOptions) => Omit<BadEntry, 'kind'>;

const GOOD_DATA = (o: BadInputOptions, i: number) => ({
  paymentId: `${o.prefix}-bp${i}`,
  accountId: `${o.prefix}-ba${i % 7}`,
  amountMinor: 100 + i,
  currency: 'EUR',
});

/** A well-formed payments envelope as a field map; each kind breaks one thing in it. */
function goodFields(
  o: BadInputOptions,
  i: number,
  data: unknown = GOOD_DATA(o, i),
): Record<string, string | Buffer> {
  const d = data as { paymentId?: unknown };
  return {
    id: `${o.prefix}-bad${i}`,
    type: 'payment.captured',
    v: '1',
    key: typeof d?.paymentId === 'string' ? d.paymentId : `${o.prefix}-bp${i}`,
    ts: '2026-11-21T10:00:00.000Z',
    data: JSON.stringify(data),
  };
}

const flat = (m: Record<string, string | Buffer>): Array<string | Buffer> => Object.entries(m).flat();

function withData(o: BadInputOptions, i: number, patch: Record<string, unknown>): Array<string | Buffer> {
  return flat(goodFields(o, i, { ...GOOD_DATA(o, i), ...patch }));
}

function withRawData(o: BadInputOptions, i: number, text: string | Buffer): Array<string | Buffer> {
  return flat({ ...goodFields(o, i), data: text });
}

function randomBytes(rng: Rng, n: number): Buffer {
  const b = Buffer.alloc(n);
  for (let k = 0; k < n; k++) b[k] = randomInt(rng, 0, 255);
  return b;
}

function nested(depth: number, open: string, close: string, leaf = '1'): string {
  return open.repeat(depth) + leaf + close.repeat(depth);
}

const KINDS: Record<string, Maker> = {
  'json.truncated': (i, rng, o) => {
    const text = goodFields(o, i).data as string;
    return {
      fields: withRawData(o, i, text.slice(0, randomInt(rng, 0, text.length - 1))),
      reasons: ['invalid_json'],
    };
  },
  'json.garbage': (i, rng, o) => ({
    fields: withRawData(
      o,
      i,
      pick(rng, [
        '',
        '{',
        'NaN',
        "{'a':1}",
        '{"a":1}}',
        'undefined',
        '{"a":1,}',
        '{"a" 1}',
        '\u0000',
        '{"a":01}',
      ]),
    ),
    reasons: ['invalid_json'],
  }),
  'json.not-object': (i, rng, o) => ({
    fields: withRawData(o, i, pick(rng, ['null', '[]', '"str"', '42', 'true', '[{"paymentId":"x"}]'])),
    reasons: ['schema_violation'],
  }),
  'utf8.truncated-data': (i, _rng, o) => {
    const bytes = Buffer.from(`{"paymentId":"${o.prefix}-bp${i}","note":"€€€`, 'utf8');
    return {
      fields: withRawData(o, i, bytes.subarray(0, bytes.length - 1)),
      reasons: ['invalid_json'],
      wireReasons: ['invalid_utf8'],
    };
  },
  'utf8.truncated-currency': (i, _rng, o) => {
    const json = JSON.stringify({ ...GOOD_DATA(o, i), currency: 'EU@' });
    const at = json.indexOf('EU@') + 2;
    const bytes = Buffer.concat([
      Buffer.from(json.slice(0, at)),
      Buffer.from([0xe2, 0x82]),
      Buffer.from(json.slice(at + 1)),
    ]);
    return {
      fields: withRawData(o, i, bytes),
      reasons: ['schema_violation', 'unsupported_currency'],
      wireReasons: ['invalid_utf8'],
    };
  },
  'utf8.truncated-type': (i, _rng, o) => ({
    fields: flat({
      ...goodFields(o, i),
      type: Buffer.concat([Buffer.from('payment.captured'), Buffer.from([0xe2])]),
    }),
    reasons: ['malformed_envelope'],
    wireReasons: ['invalid_utf8'],
  }),
  'utf8.lone-surrogate': (i, _rng, o) => ({
    // JSON escapes for half a surrogate pair parse fine and fail the identifier pattern.
    fields: withRawData(o, i, JSON.stringify(GOOD_DATA(o, i)).replace('-bp', '\\ud800')),
    reasons: ['schema_violation'],
  }),
  'oversize.data': (i, rng, o) => ({
    fields: withData(o, i, { note: 'x'.repeat(o.maxPayloadBytes + randomInt(rng, 0, 1000)) }),
    reasons: ['oversize'],
  }),
  'oversize.field-name': (i, _rng, o) => ({
    fields: [...flat(goodFields(o, i)), 'n'.repeat(o.maxPayloadBytes + 1), 'v'],
    reasons: ['oversize'],
  }),
  'oversize.multibyte': (i, _rng, o) => ({
    // Under the limit in characters, over it in UTF-8 bytes.
    fields: withData(o, i, { note: '€'.repeat(Math.ceil(o.maxPayloadBytes / 2)) }),
    reasons: ['oversize'],
  }),
  'deep.array': (i, rng, o) => ({
    fields: withRawData(
      o,
      i,
      `${JSON.stringify(GOOD_DATA(o, i)).slice(0, -1)},"x":${nested(randomInt(rng, 33, 400), '[', ']')}}`,
    ),
    reasons: ['payload_too_deep'],
  }),
  'deep.object': (i, rng, o) => ({
    fields: withRawData(
      o,
      i,
      `${JSON.stringify(GOOD_DATA(o, i)).slice(0, -1)},"x":${nested(randomInt(rng, 33, 200), '{"a":', '}')}}`,
    ),
    reasons: ['payload_too_deep'],
  }),
  'deep.over-limit': (i, _rng, o) => ({
    // Deep enough to blow a recursive walker's stack, and so over the byte limit too.
    fields: withRawData(o, i, `{"x":${nested(o.maxPayloadBytes, '[', ']')}}`),
    reasons: ['oversize'],
  }),
  'proto.top': (i, _rng, o) => ({
    fields: withRawData(o, i, `{"__proto__":{"polluted":"yes"},${JSON.stringify(GOOD_DATA(o, i)).slice(1)}`),
    reasons: ['forbidden_key'],
  }),
  'proto.nested': (i, rng, o) => ({
    fields: withRawData(
      o,
      i,
      `${JSON.stringify(GOOD_DATA(o, i)).slice(0, -1)},"meta":{"${pick(rng, ['constructor', '__proto__', 'prototype'])}":{"prototype":{"polluted":"yes"}}}}`,
    ),
    reasons: ['forbidden_key'],
  }),
  'proto.in-array': (i, _rng, o) => ({
    fields: withRawData(
      o,
      i,
      `${JSON.stringify(GOOD_DATA(o, i)).slice(0, -1)},"l":[1,{"__proto__":{"polluted":1}}]}`,
    ),
    reasons: ['forbidden_key'],
  }),
  'proto.field-name': (i, rng, o) => ({
    fields: [
      ...flat(goodFields(o, i)),
      pick(rng, ['__proto__', 'constructor', 'prototype', 'toString']),
      '{"polluted":"yes"}',
    ],
    reasons: ['malformed_envelope'],
  }),
  'proto.type': (i, rng, o) => ({
    fields: flat({
      ...goodFields(o, i),
      type: pick(rng, ['constructor', 'toString', 'hasOwnProperty', 'valueOf', 'isPrototypeOf']),
    }),
    reasons: ['unknown_type'],
  }),
  'proto.type-pattern': (i, rng, o) => ({
    fields: flat({ ...goodFields(o, i), type: pick(rng, ['__proto__', '__defineGetter__', '']) }),
    reasons: ['malformed_envelope'],
  }),
  'number.unsafe': (i, rng, o) => ({
    fields: withRawData(
      o,
      i,
      JSON.stringify(GOOD_DATA(o, i)).replace(
        /"amountMinor":\d+/,
        `"amountMinor":${pick(rng, ['9007199254740993', '9007199254740992', '1e21', '1e400', '18446744073709551616', '-1e400'])}`,
      ),
    ),
    // 1e21 is exact and refused by the payments schema; the others are refused as numbers on decode.
    reasons: ['schema_violation', 'imprecise_number'],
  }),
  'number.imprecise': (i, rng, o) => ({
    // Each parses to a valid amount (100, 1250, ...): JSON.parse alone would apply a rounded number.
    fields: withRawData(
      o,
      i,
      JSON.stringify(GOOD_DATA(o, i)).replace(
        /"amountMinor":\d+/,
        `"amountMinor":${pick(rng, ['100.0000000000000001', '1250.00000000000000001', '99.99999999999999999', '1234567890123456789'])}`,
      ),
    ),
    reasons: ['imprecise_number'],
  }),
  'json.duplicate-key': (i, rng, o) => {
    const text = JSON.stringify(GOOD_DATA(o, i));
    const repeated = pick(rng, [
      text.replace('"currency"', '"amountMinor":1000000,"currency"'),
      text.replace('"paymentId"', '"accountId":"someone-else","paymentId"'),
      `${text.slice(0, -1)},"meta":{"a":1,"b":{"c":[{"d":1,"d":2}]}}}`,
      `${text.slice(0, -1)},"\\u0061mountMinor":1}`,
    ]);
    return { fields: withRawData(o, i, repeated), reasons: ['duplicate_key'] };
  },
  'number.negative': (i, rng, o) => ({
    fields: withData(o, i, { amountMinor: -randomInt(rng, 1, 1_000_000) }),
    reasons: ['schema_violation'],
  }),
  'number.zero': (i, _rng, o) => ({
    fields: withData(o, i, { amountMinor: 0 }),
    reasons: ['schema_violation'],
  }),
  'number.fractional': (i, rng, o) => ({
    fields: withData(o, i, { amountMinor: pick(rng, [0.5, 10.25, 1e-7, 99.999]) }),
    reasons: ['schema_violation'],
  }),
  'type.wrong': (i, rng, o) => ({
    fields: withData(
      o,
      i,
      pick(rng, [
        { amountMinor: '100' },
        { amountMinor: true },
        { amountMinor: null },
        { amountMinor: [100] },
        { paymentId: 123 },
        { accountId: null },
        { accountId: { id: 'a' } },
        { currency: ['EUR'] },
        { currency: 978 },
      ] as Record<string, unknown>[]),
    ),
    reasons: ['schema_violation'],
  }),
  'missing.envelope-field': (i, rng, o) => {
    const m = goodFields(o, i);
    delete m[pick(rng, ['id', 'type', 'v', 'key', 'ts', 'data'])];
    return { fields: flat(m), reasons: ['malformed_envelope'] };
  },
  'missing.data-field': (i, rng, o) => {
    const d: Record<string, unknown> = GOOD_DATA(o, i);
    delete d[pick(rng, ['paymentId', 'accountId', 'amountMinor', 'currency'])];
    // key stays the payment id, so the only fault is the missing field
    return { fields: flat({ ...goodFields(o, i), data: JSON.stringify(d) }), reasons: ['schema_violation'] };
  },
  'extra.field': (i, rng, o) => ({
    fields: [
      ...flat(goodFields(o, i)),
      pick(rng, ['foo', 'ID', 'data2', 'traceparentx', 'meta', 'dlq.reason']),
      'extra',
    ],
    reasons: ['malformed_envelope'],
  }),
  'extra.duplicate-field': (i, rng, o) => ({
    fields: [...flat(goodFields(o, i)), pick(rng, ['id', 'data', 'type']), 'again'],
    reasons: ['malformed_envelope'],
  }),
  'unknown.type': (i, rng, o) => ({
    fields: flat({
      ...goodFields(o, i),
      type: pick(rng, ['payment.voided', 'Payment.Captured', 'payment.captured.v2', 'order.created']),
    }),
    reasons: ['unknown_type'],
  }),
  'unknown.version': (i, rng, o) => ({
    fields: flat({ ...goodFields(o, i), v: pick(rng, ['2', '3', '999999999']) }),
    reasons: ['unsupported_version'],
  }),
  'bad.version-text': (i, rng, o) => ({
    fields: flat({
      ...goodFields(o, i),
      v: pick(rng, ['0', '-1', '1.0', '01', '1e0', ' 1', '1000000000', 'one', '']),
    }),
    reasons: ['malformed_envelope'],
  }),
  'bad.id': (i, rng, o) => ({
    fields: flat({
      ...goodFields(o, i),
      id: pick(rng, ['', 'has space', 'x'.repeat(129), 'ünïcode', 'a\nb', 'a/b']),
    }),
    reasons: ['malformed_envelope'],
  }),
  'bad.ts': (i, rng, o) => ({
    fields: flat({
      ...goodFields(o, i),
      ts: pick(rng, [
        'yesterday',
        '2026-13-45T00:00:00Z',
        '2026-11-21 10:00:00',
        '2026-11-21T10:00:00',
        '',
        '1700000000',
      ]),
    }),
    reasons: ['malformed_envelope'],
  }),
  'bad.ts-impossible': (i, rng, o) => ({
    fields: flat({
      ...goodFields(o, i),
      ts: pick(rng, [
        '2026-02-30T10:00:00Z',
        '2026-04-31T10:00:00.000Z',
        '2025-02-29T00:00:00Z',
        '2026-11-21T24:00:00Z',
        '2026-11-21T24:00:01Z',
        '2026-11-21T10:00:60Z',
        '0000-01-01T00:00:00Z',
        '2026-11-21T10:00:00+16:00',
      ]),
    }),
    reasons: ['malformed_envelope'],
  }),
  'order.swapped': (i, rng, o) => {
    // Every field present once, valid, and two neighbours in the wrong order.
    const fields = flat(goodFields(o, i));
    const at = 2 * randomInt(rng, 0, 4);
    const swapped = [...fields.slice(0, at), ...fields.slice(at + 2, at + 4), ...fields.slice(at, at + 2)];
    return { fields: [...swapped, ...fields.slice(at + 4)], reasons: ['malformed_envelope'] };
  },
  'bad.key': (i, rng, o) => ({
    fields: flat({ ...goodFields(o, i), key: pick(rng, ['a\nb', '\u0000', '', 'k'.repeat(257)]) }),
    reasons: ['malformed_envelope'],
  }),
  'bad.key-mismatch': (i, _rng, o) => ({
    fields: flat({ ...goodFields(o, i), key: `${o.prefix}-other${i}` }),
    reasons: ['schema_violation'],
  }),
  'bad.traceparent': (i, rng, o) => ({
    fields: [...flat(goodFields(o, i)), 'traceparent', pick(rng, ['xyz', '', '00-00-00-00'])],
    reasons: ['malformed_envelope'],
  }),
  'empty.pair': () => ({ fields: ['', ''], reasons: ['malformed_envelope'] }),
  'empty.values': () => ({
    fields: ['id', '', 'type', '', 'v', '', 'key', '', 'ts', '', 'data', ''],
    reasons: ['malformed_envelope'],
  }),
  'empty.data-object': (i, _rng, o) => ({ fields: withRawData(o, i, '{}'), reasons: ['schema_violation'] }),
  'names.unexpected': (i, rng, o) => ({
    fields: [
      pick(rng, ['payload', 'event', 'Id', ' id', 'id ', 'DATA', 'body']),
      JSON.stringify(GOOD_DATA(o, i)),
    ],
    reasons: ['malformed_envelope'],
  }),
  'binary.garbage': (_i, rng) => {
    const fields: Buffer[] = [];
    for (let p = randomInt(rng, 1, 5); p > 0; p--)
      fields.push(randomBytes(rng, randomInt(rng, 1, 64)), randomBytes(rng, randomInt(rng, 0, 200)));
    // Random bytes are almost never UTF-8, but may be.
    return { fields, reasons: ['malformed_envelope'], wireReasons: ['invalid_utf8', 'malformed_envelope'] };
  },
  'binary.data': (i, rng, o) => ({
    // Random bytes that happen to parse (a digit, say) are valid JSON but not an object.
    fields: withRawData(o, i, Buffer.concat([Buffer.from([0xff]), randomBytes(rng, randomInt(rng, 0, 300))])),
    reasons: ['invalid_json'],
    wireReasons: ['invalid_utf8'],
  }),
  'currency.unsupported': (i, rng, o) => ({
    fields: withData(o, i, { currency: pick(rng, ['JPY', 'CHF', 'XXX', 'ZZZ']) }),
    reasons: ['unsupported_currency'],
  }),
  'currency.malformed': (i, rng, o) => ({
    fields: withData(o, i, { currency: pick(rng, ['eur', 'EURO', 'E', '', 'E U']) }),
    reasons: ['schema_violation'],
  }),
};

export const BAD_KINDS: readonly string[] = Object.keys(KINDS);

/** `count` malformed entries cycling through every kind, numbered from `start` (ids stay unique per run). */
export function generateBadEntries(
  count: number,
  seed: number,
  options: BadInputOptions,
  start = 0,
): BadEntry[] {
  const rng = createRng(seed);
  const out: BadEntry[] = [];
  for (let n = 0; n < count; n++) {
    const kind = BAD_KINDS[n % BAD_KINDS.length] as string;
    const make = KINDS[kind] as Maker;
    out.push({ kind, ...make(start + n, rng, options) });
  }
  return out;
}

/** Size in bytes of a raw entry (for keeping test volume sane). */
export function rawSize(fields: ReadonlyArray<string | Buffer>): number {
  let n = 0;
  for (const f of fields) n += typeof f === 'string' ? Buffer.byteLength(f) : f.length;
  return n;
}

export interface SdkBadInput {
  kind: string;
  input: {
    id: string;
    type: string;
    v: number;
    key: string;
    ts?: string;
    data: Record<string, unknown>;
  };
  reasons: readonly ReasonCode[];
}

/**
 * Bad events a producer without the payments registry accepts (the envelope and payload shape are fine, the
 * payments contract is not), so they reach the stream through the SDK and must be dead-lettered by the worker.
 */
export function generateSdkBadInputs(
  count: number,
  seed: number,
  options: BadInputOptions,
  start = 0,
): SdkBadInput[] {
  const rng = createRng(seed);
  const out: SdkBadInput[] = [];
  const variants: Array<[string, (i: number) => SdkBadInput['input'], ReasonCode]> = [
    ['sdk.unknown-type', (i) => ({ ...base(i), type: 'payment.voided' }), 'unknown_type'],
    ['sdk.unknown-version', (i) => ({ ...base(i), v: randomInt(rng, 2, 9) }), 'unsupported_version'],
    // Exact as a double, so the SDK sends it (2 ** 53 + 2 it refuses itself), but no safe integer.
    ['sdk.amount-unsafe', (i) => withAmount(i, 1e21), 'schema_violation'],
    ['sdk.amount-negative', (i) => withAmount(i, -randomInt(rng, 1, 1000)), 'schema_violation'],
    ['sdk.amount-fractional', (i) => withAmount(i, 12.5), 'schema_violation'],
    ['sdk.amount-string', (i) => withAmount(i, '100'), 'schema_violation'],
    ['sdk.missing-field', (i) => ({ ...base(i), data: { paymentId: base(i).key } }), 'schema_violation'],
    [
      'sdk.currency',
      (i) => ({ ...base(i), data: { ...base(i).data, currency: 'JPY' } }),
      'unsupported_currency',
    ],
    ['sdk.key-mismatch', (i) => ({ ...base(i), key: `${options.prefix}-k${i}` }), 'schema_violation'],
  ];
  function base(i: number): SdkBadInput['input'] {
    const data = GOOD_DATA(options, i);
    return { id: `${options.prefix}-sdkbad${i}`, type: 'payment.captured', v: 1, key: data.paymentId, data };
  }
  function withAmount(i: number, amountMinor: unknown): SdkBadInput['input'] {
    const b = base(i);
    return { ...b, data: { ...b.data, amountMinor } };
  }
  for (let n = 0; n < count; n++) {
    const [kind, make, reason] = variants[n % variants.length] as (typeof variants)[number];
    out.push({ kind, input: make(start + n), reasons: [reason] });
  }
  return out;
}
