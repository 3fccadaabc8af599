import { describe, expect, it } from 'vitest';
import {
  checkJsonText,
  findJsonTextIssue,
  numberTextIsExact,
  scanJsonText,
} from '../../src/lib/json-text.ts';
import { isValidTimestamp } from '../../src/lib/timestamp.ts';
import { createRng, randomInt } from '../helpers/payments-model.ts';

type Rng = () => number;

/** A random JSON value without repeated keys, with strings full of the characters a scanner trips on. */
function randomValue(rng: Rng, depth: number): unknown {
  const kind = randomInt(rng, 0, depth > 3 ? 3 : 5);
  if (kind === 0) return randomInt(rng, -1e6, 1e6) / 10 ** randomInt(rng, 0, 3);
  if (kind === 1) return randomString(rng);
  if (kind === 2) return [true, false, null, rng() * 1e-300, rng() * 1e300, -0][randomInt(rng, 0, 5)];
  if (kind === 3) return rng();
  if (kind === 4) return Array.from({ length: randomInt(rng, 0, 4) }, () => randomValue(rng, depth + 1));
  const out: Record<string, unknown> = {};
  for (let n = randomInt(rng, 0, 5); n > 0; n--) out[randomString(rng)] = randomValue(rng, depth + 1);
  return out;
}

function randomString(rng: Rng): string {
  const alphabet = ['a', 'b', ':', ',', '"', '\\', '{', '}', '[', ']', '1', 'e', '-', 'é', '\n', '\u0000'];
  return Array.from({ length: randomInt(rng, 0, 6) }, () => alphabet[randomInt(rng, 0, 15)]).join('');
}

describe('JSON text checks', () => {
  it('find nothing wrong in what JSON.stringify writes (doubles included)', () => {
    const rng = createRng(3);
    for (let n = 0; n < 3000; n++) {
      const value = { root: randomValue(rng, 0) };
      const text = JSON.stringify(value, null, n % 2 === 0 ? undefined : 1);
      expect(checkJsonText(text, JSON.parse(text)), text).toBeUndefined();
      expect(findJsonTextIssue(text), text).toBeUndefined();
    }
  });

  it('find a key repeated anywhere, with its path, however the text is spaced', () => {
    const rng = createRng(5);
    for (let n = 0; n < 1000; n++) {
      const inner: Record<string, unknown> = { k: randomValue(rng, 2), other: randomValue(rng, 2) };
      const text = JSON.stringify({ list: [1, inner], z: randomValue(rng, 1) }, null, n % 2 === 0 ? 0 : 2);
      // Repeat `k` by renaming `other`: the parsed value has one key fewer than the text.
      const repeated = text.replace('"other"', '"k"');
      expect(checkJsonText(repeated, JSON.parse(repeated))).toMatchObject({
        reason: 'duplicate_key',
        path: '.list[1].k',
      });
    }
  });

  it('count one member per key written, strings with colons and escaped quotes aside', () => {
    expect(scanJsonText('{"a:":"b:\\":","c":[{"d":1},{}],"e":{"f":"\\\\"}}')).toBe(5);
    expect(scanJsonText('{}')).toBe(0);
  });

  it('hold numbers to the round-trip rule', () => {
    for (const exact of ['0', '-0', '1.5', '1.50', '15e-1', '1E+21', '5e-324', '0.30000000000000004'])
      expect(numberTextIsExact(exact), exact).toBe(true);
    for (const lossy of ['100.0000000000000001', '9007199254740993', '9007199254740992', '1e400', '1e-400'])
      expect(numberTextIsExact(lossy), lossy).toBe(false);
    expect(numberTextIsExact('9007199254740991')).toBe(true);
    expect(numberTextIsExact('-9007199254740991')).toBe(true);
  });
});

describe('isValidTimestamp', () => {
  it('accepts exactly the calendar days that exist (checked against Date for 1899-2101 and 9999)', () => {
    const years = [1, 4, 100, 400, 1900, 2000, 2024, 2025, 2100, 9999];
    for (let y = 1899; y <= 2101; y += 1) years.push(y);
    const wrong: string[] = [];
    for (const year of years)
      for (let month = 1; month <= 12; month++)
        for (let day = 1; day <= 31; day++) {
          const date = new Date(0);
          date.setUTCFullYear(year, month - 1, day);
          const exists = date.getUTCDate() === day;
          const ts = `${String(year).padStart(4, '0')}-${String(month).padStart(2, '0')}-${String(day).padStart(2, '0')}T00:00:00Z`;
          if (isValidTimestamp(ts) !== exists) wrong.push(ts);
        }
    expect(wrong).toEqual([]);
  });
});
