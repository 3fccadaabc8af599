import { describe, expect, it } from 'vitest';
import type { PaymentType } from '../../src/consumers/pipelines/payments/events.ts';
import { foldPayments } from '../../src/consumers/pipelines/payments/fold.ts';
import { createFaultChooser, FAULT_KINDS } from '../chaos/faults.ts';
import { buildPlan } from '../chaos/plan.ts';
import {
  createRng,
  diffState,
  expectedState,
  generatePaymentEvents,
  stateMatches,
} from '../helpers/payments-model.ts';

describe('chaos model: the independent record the soak checks against', () => {
  it('expected state agrees with the pipeline fold of the same events in one batch', () => {
    const events = generatePaymentEvents({ count: 5000, seed: 3, accounts: 40 });
    const model = expectedState(events);
    const folded = foldPayments(
      events.map((e) => ({ eventId: e.id, type: e.type as PaymentType, ...e.data })),
    );
    expect(folded.payments.length).toBe(model.payments.size);
    for (const row of folded.payments) {
      const m = model.payments.get(row.paymentId);
      expect(m?.amountMinor).toBe(row.amountMinor);
      expect(m && { authorized: 1, captured: 2, refunded: 3 }[m.status]).toBe(row.statusRank);
    }
    expect(folded.balances.length).toBe(model.balances.size);
    for (const b of folded.balances)
      expect(model.balances.get(`${b.accountId}|${b.currency}`)).toBe(b.deltaMinor);
  });

  it('counts an event published twice once', () => {
    const events = generatePaymentEvents({ count: 300, seed: 4 });
    expect(expectedState([...events, ...events.slice(0, 100)])).toEqual(expectedState(events));
  });

  it('plans every good event once, second copies after their first, and the requested poison', () => {
    const plan = buildPlan({
      events: 10_000,
      seed: 5,
      poisonRate: 0.005,
      duplicateRate: 0.02,
      maxPayloadBytes: 4096,
    });
    const firstAt = new Map<string, number>();
    plan.ops.forEach((op, i) => {
      if (op.kind === 'good') {
        expect(firstAt.has(op.event.id)).toBe(false);
        firstAt.set(op.event.id, i);
      } else if (op.kind !== 'poison') expect(firstAt.get(op.event.id)).toBeLessThan(i);
    });
    expect(firstAt.size).toBe(10_000);
    expect(plan.poisonCount).toBe(50);
    expect(plan.ops.filter((o) => o.kind === 'poison')).toHaveLength(50);
    expect(plan.againPlain + plan.againSdk).toBeGreaterThan(100);
  });

  it('schedules every fault kind once before repeating any', () => {
    const choose = createFaultChooser(createRng(9), ['redis.latency']);
    const first = Array.from({ length: FAULT_KINDS.length - 1 }, () => choose());
    expect(new Set(first)).toEqual(new Set(FAULT_KINDS.filter((k) => k !== 'redis.latency')));
    for (let i = 0; i < 200; i++) expect(choose()).not.toBe('redis.latency');
  });

  it('sees a lost event and an event applied twice in the projections', () => {
    const events = generatePaymentEvents({ count: 2000, seed: 6 });
    const expected = expectedState(events);
    expect(stateMatches(diffState(expected, expectedState(events)))).toBe(true);

    const capture = events.find((e) => e.type === 'payment.captured');
    if (!capture) throw new Error('no capture generated');
    const lost = diffState(expected, expectedState(events.filter((e) => e !== capture)));
    expect(stateMatches(lost)).toBe(false);
    expect(lost.balanceError).toBe(BigInt(capture.data.amountMinor));

    // Applied twice: the same event under a second id, as a broken inbox would let through.
    const twice = diffState(expected, expectedState([...events, { ...capture, id: `${capture.id}-again` }]));
    expect(twice.wrongBalances).toBe(1);
    expect(twice.balanceError).toBe(BigInt(capture.data.amountMinor));
  });
});
