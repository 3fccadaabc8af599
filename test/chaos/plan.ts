import { type BadEntry, generateBadEntries } from '../helpers/bad-input.ts';
import {
  createRng,
  generatePaymentEvents,
  type PaymentEventInput,
  randomInt,
} from '../helpers/payments-model.ts';

/**
 * What a chaos run publishes, decided up front from the seed, so the checker has a record of intent that
 * does not depend on anything streamsink did. Pure.
 *
 *   good        a payment event, published once through the idempotent SDK
 *   again-plain the same event published a second time with a plain XADD: two entries, one event id
 *   again-sdk   the same event published a second time through the idempotent SDK: deduplicated at publish
 *   poison      a malformed entry (mixed kinds), raw XADD
 */
export type PlannedOp =
  | { kind: 'good'; event: PaymentEventInput }
  | { kind: 'again-plain'; event: PaymentEventInput }
  | { kind: 'again-sdk'; event: PaymentEventInput }
  | { kind: 'poison'; entry: BadEntry };

export interface ChaosPlan {
  ops: PlannedOp[];
  good: PaymentEventInput[];
  prefix: string;
  poisonCount: number;
  againPlain: number;
  againSdk: number;
}

export interface PlanOptions {
  events: number;
  seed: number;
  poisonRate: number;
  duplicateRate: number;
  maxPayloadBytes: number;
}

export function buildPlan(o: PlanOptions): ChaosPlan {
  const prefix = `k${o.seed}`;
  const good = generatePaymentEvents({ count: o.events, seed: o.seed, prefix, accounts: 2000 });
  const rng = createRng(o.seed ^ 0x5eed);
  const slots: Array<PlannedOp[]> = good.map((event) => [{ kind: 'good', event }]);
  let againPlain = 0;
  let againSdk = 0;
  for (let i = 0; i < good.length; i++) {
    if (rng() >= o.duplicateRate) continue;
    // The second copy comes a little later, as a producer retry or a replay would.
    const at = Math.min(good.length - 1, i + randomInt(rng, 0, 3000));
    const plain = rng() < 0.75;
    if (plain) againPlain++;
    else againSdk++;
    slots[at]?.push({ kind: plain ? 'again-plain' : 'again-sdk', event: good[i] as PaymentEventInput });
  }
  const poisonCount = Math.round(o.events * o.poisonRate);
  const poison = generateBadEntries(poisonCount, o.seed ^ 0xbad, {
    maxPayloadBytes: o.maxPayloadBytes,
    prefix,
  });
  for (const entry of poison) slots[randomInt(rng, 0, slots.length - 1)]?.push({ kind: 'poison', entry });
  return { ops: slots.flat(), good, prefix, poisonCount, againPlain, againSdk };
}
