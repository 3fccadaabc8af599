import type { Effect, TableSpec } from '../../decide/effects.ts';
import { type DecideEventOf, definePipeline } from '../../define-pipeline.ts';
import { checkPaymentRules, PAYMENT_STATUS_RANK, PAYMENT_TYPES, paymentDataSchema } from './events.ts';
import { PAYMENTS_MIGRATIONS } from './migrations.ts';

/**
 * The payments pipeline (docs/pipelines/payments.md), written in the `decide` form of the public pipeline API:
 * each event becomes the rows it merges into `payments` (status only rises) and `account_balances`
 * (+capture, -refund), and streamsink folds a batch's rows by key and writes each table with one statement,
 * in key order, inside the inbox transaction, with a SHA-256 proof per event (docs/proof.md).
 *
 * The merge rules say what the hand-written SQL used to: a payment's account and currency are those of its
 * first event (`keep-first`: a payment does not change hands); its status rank only rises (`max`, so arrival
 * order does not matter); its amount is that of the event that set the status, on a tie the larger
 * (`maxBy: status_rank`); a balance sums the signed amounts (`add`, a bigint in Postgres).
 */
export const PAYMENTS_TABLES = {
  payments: {
    key: ['payment_id'],
    merge: {
      account_id: 'keep-first',
      currency: 'keep-first',
      status_rank: 'max',
      amount_minor: { maxBy: ['status_rank'] },
    },
    touch: ['updated_at'],
  },
  account_balances: {
    key: ['account_id', 'currency'],
    merge: { balance_minor: 'add' },
    touch: ['updated_at'],
  },
} as const satisfies Record<string, TableSpec>;

export interface PaymentsPipelineOptions {
  /** Allowed ISO 4217 codes (STREAMSINK_PAYMENTS_CURRENCIES); any other currency is poison. */
  currencies: readonly string[];
}

const EVENTS = PAYMENT_TYPES.map((type) => ({ type, v: 1, schema: paymentDataSchema }));

/** What one payment event does. Pure. (The pipeline's `decide` runs `check`'s rules first.) */
export function decidePayment(event: DecideEventOf<typeof EVENTS>): Effect[] {
  const { paymentId, accountId, currency, amountMinor } = event.data;
  const effects: Effect[] = [
    {
      table: 'payments',
      key: { payment_id: paymentId },
      values: {
        account_id: accountId,
        currency,
        status_rank: PAYMENT_STATUS_RANK[event.type],
        amount_minor: amountMinor,
      },
    },
  ];
  // An account that saw a capture or refund gets a row even when it nets to zero (rows do not depend on batching).
  if (event.type !== 'payment.authorized')
    effects.push({
      table: 'account_balances',
      key: { account_id: accountId, currency },
      values: { balance_minor: event.type === 'payment.captured' ? amountMinor : -amountMinor },
    });
  return effects;
}

export function createPaymentsPipeline(options: PaymentsPipelineOptions) {
  const currencies = new Set(options.currencies);
  return definePipeline({
    name: 'payments',
    version: '2',
    // Installations before named pipelines ran every group as `streamsink`: keep their position in the stream.
    group: 'streamsink',
    events: EVENTS,
    migrations: PAYMENTS_MIGRATIONS,
    reasons: ['unsupported_currency'],
    check: (event) => checkPaymentRules(event.key, event.data, currencies),
    tables: PAYMENTS_TABLES,
    // Checked again here: nothing is written for an event check would refuse, whoever hands it to the sink.
    decide: (event) => {
      checkPaymentRules(event.key, event.data, currencies);
      return decidePayment(event);
    },
  });
}
