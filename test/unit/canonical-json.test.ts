import { describe, expect, it } from 'vitest';
import { contentHash } from '../../src/consumers/content-hash.ts';
import { canonicalJson } from '../../src/lib/canonical-json.ts';

describe('canonicalJson (RFC 8785)', () => {
  it('sorts keys by UTF-16 code units at every depth and drops whitespace', () => {
    const value = JSON.parse(
      '{ "b": [ {"z":1, "a":2} ], "a": "x", "é": 1, "Z": null, "\\ud83d\\ude00": true, "10": 0 }',
    );
    expect(canonicalJson(value)).toBe('{"10":0,"Z":null,"a":"x","b":[{"a":2,"z":1}],"é":1,"😀":true}');
  });

  it("serialises numbers and strings as ECMAScript's JSON does (the RFC's rule)", () => {
    expect(canonicalJson([1.1, 1e21, 1e-7, -0, 0.000001, 123456789012345680000])).toBe(
      '[1.1,1e+21,1e-7,0,0.000001,123456789012345680000]',
    );
    expect(canonicalJson('line\nbreak "quoted" \u2028 \u001f')).toBe(
      '"line\\nbreak \\"quoted\\" \u2028 \\u001f"',
    );
  });

  it('refuses values that have no JSON text', () => {
    expect(() => canonicalJson(Number.NaN)).toThrow(RangeError);
    expect(() => canonicalJson({ a: Number.POSITIVE_INFINITY })).toThrow(RangeError);
    expect(() => canonicalJson(1n)).toThrow(RangeError);
  });

  it('omits undefined members as JSON.stringify does', () => {
    expect(canonicalJson({ a: undefined, b: 1 })).toBe('{"b":1}');
  });
});

describe('contentHash', () => {
  const base = { type: 't', v: 1, key: 'k', data: { a: 1, b: [1, 2] } };
  it('is the same for the same content in another key order', () => {
    expect(contentHash({ ...base, data: { b: [1, 2], a: 1 } })).toBe(contentHash(base));
    expect(contentHash(base)).toMatch(/^[0-9a-f]{64}$/);
  });
  it('changes with type, version, key or data', () => {
    const h = contentHash(base);
    for (const other of [
      { ...base, type: 'u' },
      { ...base, v: 2 },
      { ...base, key: 'j' },
      { ...base, data: { a: 1, b: [2, 1] } },
    ])
      expect(contentHash(other)).not.toBe(h);
  });
});

describe('canonicalJson fast paths', () => {
  // The RFC 8785 text by its definition, the straightforward way (JSON.stringify for every scalar and key).
  function reference(value: unknown): string {
    if (value === null || typeof value !== 'object') return JSON.stringify(value);
    if (Array.isArray(value)) return `[${value.map(reference).join(',')}]`;
    const record = value as Record<string, unknown>;
    const keys = Object.keys(record)
      .filter((k) => record[k] !== undefined)
      .sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${reference(record[k])}`).join(',')}}`;
  }

  it('writes every BMP character, lone surrogates and astral ones as JSON.stringify does, in keys and values', () => {
    const chars: string[] = [];
    for (let c = 0; c <= 0xffff; c++) chars.push(String.fromCharCode(c));
    chars.push('\u{1f600}', '\ud83d', '\ude00x');
    for (const ch of chars) {
      const s = `a${ch}b`;
      expect(canonicalJson(s)).toBe(JSON.stringify(s));
      expect(canonicalJson({ [s]: s, z: ch })).toBe(reference({ [s]: s, z: ch }));
    }
  });

  it('writes integers, fractions and signed zero as JSON.stringify does', () => {
    const numbers = [
      0,
      -0,
      1,
      -1,
      2 ** 53 - 1,
      -(2 ** 53),
      1e21,
      1e-7,
      0.1 + 0.2,
      5e-324,
      1.7976931348623157e308,
    ];
    for (const n of numbers)
      expect(canonicalJson({ n, m: [n, true, false] })).toBe(reference({ n, m: [n, true, false] }));
  });

  it('takes JSON.stringify only where its text is the canonical one', () => {
    class Point {
      x = 1;
    }
    const cases: unknown[] = [
      { a: 1, b: 'x', c: [true, null, { d: 2, e: [] }] },
      { '10': 0, '9': 1, a: 2 },
      { a: 1, b: { z: 1, y: 2 } },
      { a: new Date(0) },
      { a: new Point() },
      Object.assign(Object.create(null), { a: 1, b: 2 }),
      { a: 'é\u2028"', b: -0, c: 1e21 },
      [{ b: 1, a: 2 }, 'x'],
    ];
    for (const value of cases) expect(canonicalJson(value)).toBe(reference(value));
    expect(() => canonicalJson({ a: 1, b: Number.NaN })).toThrow(RangeError);
    expect(() => canonicalJson([1, undefined])).toThrow(RangeError);
    expect(() => canonicalJson({ a: { toJSON: () => 'no' } })).toThrow(RangeError);
    expect(canonicalJson({ a: 1, b: undefined })).toBe('{"a":1}');
  });
});
