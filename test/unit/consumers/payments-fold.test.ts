import { describe, expect, it } from 'vitest';
import type { PaymentEvent, PaymentType } from '../../../src/consumers/pipelines/payments/events.ts';
import { foldPayments } from '../../../src/consumers/pipelines/payments/fold.ts';

let seq = 0;
function ev(
  type: 'a' | 'c' | 'r',
  paymentId: string,
  amountMinor: number,
  accountId = 'acc-1',
  currency = 'EUR',
) {
  const t: Record<string, PaymentType> = {
    a: 'payment.authorized',
    c: 'payment.captured',
    r: 'payment.refunded',
  };
  seq += 1;
  return { eventId: `e${seq}`, type: t[type], paymentId, accountId, currency, amountMinor } as PaymentEvent;
}

function shuffle<T>(items: T[], seed: number): T[] {
  const out = [...items];
  let s = seed;
  for (let i = out.length - 1; i > 0; i--) {
    s = (s * 1103515245 + 12345) % 2147483648;
    const j = s % (i + 1);
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

describe('foldPayments', () => {
  it('keeps the highest status of a payment whatever the order', () => {
    const events = [ev('a', 'p1', 100), ev('c', 'p1', 100), ev('r', 'p1', 100)];
    for (const order of [events, [...events].reverse(), shuffle(events, 7)]) {
      expect(foldPayments(order).payments).toEqual([
        { paymentId: 'p1', accountId: 'acc-1', currency: 'EUR', amountMinor: 100, statusRank: 3 },
      ]);
    }
  });

  it('never lowers a status: a late authorization after a capture changes nothing', () => {
    const folded = foldPayments([ev('c', 'p1', 90), ev('a', 'p1', 100)]);
    expect(folded.payments[0]).toMatchObject({ statusRank: 2, amountMinor: 90 });
  });

  it('breaks a rank tie by the larger amount, so two refunds fold the same in any order', () => {
    const a = foldPayments([ev('r', 'p1', 30), ev('r', 'p1', 70)]).payments;
    const b = foldPayments([ev('r', 'p1', 70), ev('r', 'p1', 30)]).payments;
    expect(a).toEqual(b);
    expect(a[0]?.amountMinor).toBe(70);
  });

  it('sums balance deltas per (account, currency): +capture, -refund, authorization does not move it', () => {
    const folded = foldPayments([
      ev('a', 'p1', 500, 'acc-1', 'EUR'),
      ev('c', 'p1', 500, 'acc-1', 'EUR'),
      ev('c', 'p2', 250, 'acc-1', 'EUR'),
      ev('r', 'p2', 100, 'acc-1', 'EUR'),
      ev('c', 'p3', 7, 'acc-1', 'USD'),
      ev('a', 'p4', 9, 'acc-2', 'EUR'),
    ]);
    expect(folded.balances).toEqual([
      { accountId: 'acc-1', currency: 'EUR', deltaMinor: 650n },
      { accountId: 'acc-1', currency: 'USD', deltaMinor: 7n },
    ]);
  });

  it('keeps a balance row for an account whose batch nets to zero', () => {
    const folded = foldPayments([ev('c', 'p1', 40), ev('r', 'p1', 40)]);
    expect(folded.balances).toEqual([{ accountId: 'acc-1', currency: 'EUR', deltaMinor: 0n }]);
  });

  it('sums beyond Number.MAX_SAFE_INTEGER exactly (bigint)', () => {
    const max = Number.MAX_SAFE_INTEGER;
    const folded = foldPayments([ev('c', 'p1', max), ev('c', 'p2', max), ev('c', 'p3', max)]);
    expect(folded.balances[0]?.deltaMinor).toBe(3n * BigInt(max));
  });

  it('gives the same rows for any order of one batch (ordering independence)', () => {
    const events: PaymentEvent[] = [];
    for (let i = 0; i < 200; i++) {
      const kind = (['a', 'c', 'r'] as const)[i % 3] as 'a' | 'c' | 'r';
      events.push(ev(kind, `p${i % 17}`, 1 + ((i * 37) % 1000), `acc-${i % 5}`, i % 2 ? 'EUR' : 'USD'));
    }
    const reference = foldPayments(events);
    for (const seed of [1, 2, 3, 42]) expect(foldPayments(shuffle(events, seed))).toEqual(reference);
  });

  it('sorts rows by key so concurrent writers lock them in one order', () => {
    const folded = foldPayments([
      ev('c', 'p-b', 1, 'acc-b', 'USD'),
      ev('c', 'p-a', 1, 'acc-b', 'EUR'),
      ev('c', 'p-c', 1, 'acc-a', 'USD'),
    ]);
    expect(folded.payments.map((p) => p.paymentId)).toEqual(['p-a', 'p-b', 'p-c']);
    expect(folded.balances.map((b) => `${b.accountId}/${b.currency}`)).toEqual([
      'acc-a/USD',
      'acc-b/EUR',
      'acc-b/USD',
    ]);
  });

  it('folds an empty batch to nothing', () => {
    expect(foldPayments([])).toEqual({ payments: [], balances: [] });
  });
});
