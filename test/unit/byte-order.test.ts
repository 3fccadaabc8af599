import { describe, expect, it } from 'vitest';
import { compareBytes, sortByBytes } from '../../src/lib/byte-order.ts';

const utf8 = (s: string) => Buffer.from(s, 'utf8');

describe('sortByBytes: the order of Postgres COLLATE "C"', () => {
  it('orders as the UTF-8 bytes do, including characters above U+FFFF against U+E000-FFFF', () => {
    const words = ['b', 'a', 'B', 'ab', 'a:1', 'a-1', '\uffff', '\u{1f600}', '\ue000', 'é', 'z', '', 'a'];
    const sorted = sortByBytes(words, (w) => w);
    const byBytes = [...words].sort((x, y) => Buffer.compare(utf8(x), utf8(y)));
    expect(sorted).toEqual(byBytes);
    // Plain code-unit order would put the emoji (a surrogate pair) before U+E000.
    expect([...words].sort()).not.toEqual(byBytes);
  });

  it('compares equal strings as equal and a prefix first; leaves the input alone', () => {
    expect(compareBytes('abc', 'abc')).toBe(0);
    expect(compareBytes('ab', 'abc')).toBeLessThan(0);
    const input = [{ id: 'b' }, { id: 'a' }];
    expect(sortByBytes(input, (x) => x.id).map((x) => x.id)).toEqual(['a', 'b']);
    expect(input.map((x) => x.id)).toEqual(['b', 'a']);
  });

  it('agrees with Buffer.compare on random strings', () => {
    let seed = 7;
    const next = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed;
    };
    const alphabet = ['a', 'b', 'Z', '0', '\u00e9', '\ud7ff', '\ue000', '\uffff', '\u{10000}', '\u{1f600}'];
    for (let round = 0; round < 200; round++) {
      const a = Array.from({ length: next() % 5 }, () => alphabet[next() % alphabet.length]).join('');
      const b = Array.from({ length: next() % 5 }, () => alphabet[next() % alphabet.length]).join('');
      expect(Math.sign(compareBytes(a, b))).toBe(Math.sign(Buffer.compare(utf8(a), utf8(b))));
    }
  });
});
