import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { contentHash } from '../../src/consumers/content-hash.ts';
import { contentId } from '../../src/producers/content-id.ts';

describe('contentId (docs/wire-format.md#content-ids)', () => {
  it('is sha256- and the hex SHA-256 of the canonical {data,key,type,v}, key left out when absent, v 1 by default', () => {
    const canonical = '{"data":{"a":[1,"x"],"b":2},"type":"payment.captured","v":1}';
    const hex = createHash('sha256').update(canonical).digest('hex');
    expect(contentId({ type: 'payment.captured', data: { b: 2, a: [1, 'x'] } })).toBe(`sha256-${hex}`);
    expect(contentId({ type: 'payment.captured', v: 1, data: { a: [1, 'x'], b: 2 } })).toBe(`sha256-${hex}`);
    expect(contentId({ type: 'payment.captured', data: { a: [1, 'x'], b: 2 } })).toMatch(
      /^sha256-[0-9a-f]{64}$/,
    );
  });

  it('changes with type, v, key or data, and equals the content hash when the event has a key', () => {
    const base = { type: 't', v: 1, key: 'k', data: { n: 1 } };
    const ids = new Set([
      contentId(base),
      contentId({ ...base, type: 'u' }),
      contentId({ ...base, v: 2 }),
      contentId({ ...base, key: 'other' }),
      contentId({ type: 't', v: 1, data: { n: 1 } }),
      contentId({ ...base, data: { n: 2 } }),
    ]);
    expect(ids.size).toBe(6);
    expect(contentId(base)).toBe(`sha256-${contentHash(base)}`);
  });

  it('matches the worked example in docs/wire-format.md#content-hash', () => {
    const event = {
      type: 'payment.captured',
      v: 1,
      key: 'pay_1',
      data: { currency: 'EUR', amountMinor: 1250 },
    };
    expect(contentHash(event)).toBe('d6a873e8be656baa76526cdd1a84378c43a68008514a10255766bad106fb3cc3');
  });
});
