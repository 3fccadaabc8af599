import { definePipeline, type EventOf } from '../src/consumers/define-pipeline.ts';
import {
  checkPaymentRules,
  PAYMENT_TYPES,
  type PaymentEvent,
  paymentDataSchema,
} from '../src/consumers/pipelines/payments/events.ts';
import { foldPayments } from '../src/consumers/pipelines/payments/fold.ts';
import { PAYMENTS_MIGRATIONS } from '../src/consumers/pipelines/payments/migrations.ts';

/**
 * Bench fixture, never shipped: the payments pipeline as it was written before its port to `decide` (an SQL
 * `apply`, the batch folded by hand), kept so `npm run bench -- --only payments-apply,payments-decide`
 * compares the two forms in one run. Loaded with `--pipeline bench/payments-apply-pipeline.ts`.
 *
 * The payments pipeline (docs/pipelines/payments.md), written on the public pipeline API: projects payment
 * events into `payments` (status only rises) and `account_balances` (+capture, -refund). Each batch is folded
 * first, then written with one statement per table; rows are inserted in key order (COLLATE "C", the fold's
 * order) so concurrent workers lock them in the same order. Amounts cross to Postgres as decimal strings:
 * bigint sums need not fit a JS number. A payment's account and currency are those of its first event (a
 * payment does not change hands); its amount is that of the event that set its status (on a tie, the
 * larger), the same rule as the fold, so arrival order does not matter.
 */
const UPSERT_PAYMENTS = `
INSERT INTO payments (payment_id, account_id, currency, amount_minor, status_rank)
SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::smallint[])
  AS t(payment_id, account_id, currency, amount_minor, status_rank)
ORDER BY payment_id COLLATE "C"
ON CONFLICT (payment_id) DO UPDATE SET
  status_rank = GREATEST(payments.status_rank, EXCLUDED.status_rank),
  amount_minor = CASE
    WHEN (EXCLUDED.status_rank, EXCLUDED.amount_minor) > (payments.status_rank, payments.amount_minor)
    THEN EXCLUDED.amount_minor ELSE payments.amount_minor END,
  updated_at = now()`;

const UPSERT_BALANCES = `
INSERT INTO account_balances (account_id, currency, balance_minor)
SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[]) AS t(account_id, currency, delta)
ORDER BY account_id COLLATE "C", currency COLLATE "C"
ON CONFLICT (account_id, currency) DO UPDATE SET
  balance_minor = account_balances.balance_minor + EXCLUDED.balance_minor,
  updated_at = now()`;

export interface PaymentsPipelineOptions {
  /** Allowed ISO 4217 codes (STREAMSINK_PAYMENTS_CURRENCIES); any other currency is poison. */
  currencies: readonly string[];
}

const EVENTS = PAYMENT_TYPES.map((type) => ({ type, v: 1, schema: paymentDataSchema }));
type PaymentsEvent = EventOf<typeof EVENTS>;

function createPaymentsApplyPipeline(options: PaymentsPipelineOptions) {
  const currencies = new Set(options.currencies);
  return definePipeline({
    name: 'payments',
    version: '1',
    // Installations before named pipelines ran every group as `streamsink`: keep their position in the stream.
    group: 'streamsink',
    events: EVENTS,
    migrations: PAYMENTS_MIGRATIONS,
    reasons: ['unsupported_currency'],
    check: (event) => checkPaymentRules(event.key, event.data, currencies),
    async apply(tx, events) {
      // Checked again here: apply must never write an event check would refuse, whoever called it.
      for (const event of events) checkPaymentRules(event.key, event.data, currencies);
      const folded = foldPayments(events.map(toPaymentEvent));
      const p = folded.payments;
      await tx.query(UPSERT_PAYMENTS, [
        p.map((r) => r.paymentId),
        p.map((r) => r.accountId),
        p.map((r) => r.currency),
        p.map((r) => String(r.amountMinor)),
        p.map((r) => r.statusRank),
      ]);
      const b = folded.balances;
      if (b.length === 0) return;
      await tx.query(UPSERT_BALANCES, [
        b.map((r) => r.accountId),
        b.map((r) => r.currency),
        b.map((r) => r.deltaMinor.toString()),
      ]);
    },
  });
}

function toPaymentEvent(event: PaymentsEvent): PaymentEvent {
  return {
    eventId: event.id,
    type: event.type,
    paymentId: event.data.paymentId,
    accountId: event.data.accountId,
    currency: event.data.currency,
    amountMinor: event.data.amountMinor,
  };
}

export default function paymentsApply({ env }: { env: Readonly<Record<string, string | undefined>> }) {
  return createPaymentsApplyPipeline({
    currencies: (env.STREAMSINK_PAYMENTS_CURRENCIES ?? 'EUR,USD,GBP').split(','),
  });
}
