import { describe, expect, it } from 'vitest';
import { compareEntryIds } from '../../src/lib/redis/stream-ids.ts';

describe('compareEntryIds agrees with bigint ordering', () => {
  it('on random ids, leading zeros and parts past 2^53 included', () => {
    const big = (id: string) => id.split('-').map((p) => BigInt(p)) as [bigint, bigint];
    const order = (a: string, b: string) => {
      const [x, y] = [big(a), big(b)];
      return x[0] !== y[0] ? (x[0] < y[0] ? -1 : 1) : x[1] !== y[1] ? (x[1] < y[1] ? -1 : 1) : 0;
    };
    const parts = [
      '0',
      '9',
      '10',
      '007',
      '99',
      '100',
      '1796154165083',
      '18446744073709551615',
      '9007199254740993',
    ];
    for (const a of parts)
      for (const b of parts)
        for (const c of ['0', '1', '10', '02'])
          for (const d of ['0', '9', '10'])
            expect(compareEntryIds(`${a}-${c}`, `${b}-${d}`)).toBe(order(`${a}-${c}`, `${b}-${d}`));
  });
});
