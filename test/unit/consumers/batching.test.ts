import { describe, expect, it } from 'vitest';
import { splitIntoBatches } from '../../../src/consumers/batching.ts';

describe('splitIntoBatches', () => {
  it('keeps order and caps each batch', () => {
    expect(splitIntoBatches([1, 2, 3, 4, 5], 2)).toEqual([[1, 2], [3, 4], [5]]);
  });
  it('returns one small batch when little arrived', () => {
    expect(splitIntoBatches(['a'], 500)).toEqual([['a']]);
  });
  it('returns nothing for nothing', () => {
    expect(splitIntoBatches([], 500)).toEqual([]);
  });
  it('refuses a batch size below 1', () => {
    expect(() => splitIntoBatches([1], 0)).toThrow(RangeError);
  });
});
