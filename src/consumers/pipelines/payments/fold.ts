import { PAYMENT_STATUS_RANK, type PaymentEvent } from './events.ts';

/**
 * Fold a batch of payment events into the row changes it makes: one per payment and one per (account,
 * currency). `INSERT ... ON CONFLICT DO UPDATE` fails when one statement touches a row twice, and one change
 * per row is also the least work. Pure.
 *
 * Rows come out sorted by key (code-unit order), so two workers writing overlapping batches lock rows in the
 * same order and cannot deadlock each other.
 */
export interface PaymentRow {
  paymentId: string;
  accountId: string;
  currency: string;
  /** Amount of the event that set the status (the highest rank; on a tie, the larger amount). */
  amountMinor: number;
  statusRank: 1 | 2 | 3;
}

export interface BalanceDelta {
  accountId: string;
  currency: string;
  /** Net change in minor units. A bigint: a batch's sum of safe integers need not be one. */
  deltaMinor: bigint;
}

export interface FoldedPayments {
  payments: PaymentRow[];
  balances: BalanceDelta[];
}

/** Whether `a` should replace `b` as a payment's row: higher rank wins, then the larger amount. */
export function outranks(a: Pick<PaymentRow, 'statusRank' | 'amountMinor'>, b: typeof a): boolean {
  return a.statusRank > b.statusRank || (a.statusRank === b.statusRank && a.amountMinor > b.amountMinor);
}

/** What an event does to its account's balance: +amount on capture, -amount on refund, nothing on authorize. */
export function balanceEffect(event: PaymentEvent): bigint | undefined {
  if (event.type === 'payment.captured') return BigInt(event.amountMinor);
  if (event.type === 'payment.refunded') return -BigInt(event.amountMinor);
  return undefined;
}

export function foldPayments(events: readonly PaymentEvent[]): FoldedPayments {
  const payments = new Map<string, PaymentRow>();
  const balances = new Map<string, BalanceDelta>();
  for (const e of events) {
    const row: PaymentRow = {
      paymentId: e.paymentId,
      accountId: e.accountId,
      currency: e.currency,
      amountMinor: e.amountMinor,
      statusRank: PAYMENT_STATUS_RANK[e.type],
    };
    const seen = payments.get(e.paymentId);
    if (!seen || outranks(row, seen)) payments.set(e.paymentId, row);

    const effect = balanceEffect(e);
    if (effect === undefined) continue;
    // An account that saw a capture or refund gets a row even when the batch nets to zero, so which rows
    // exist does not depend on how events were batched.
    const key = `${e.accountId}\u0000${e.currency}`;
    const b = balances.get(key);
    if (b) b.deltaMinor += effect;
    else balances.set(key, { accountId: e.accountId, currency: e.currency, deltaMinor: effect });
  }
  return {
    payments: [...payments.values()].sort((a, b) => compare(a.paymentId, b.paymentId)),
    balances: [...balances.values()].sort(
      (a, b) => compare(a.accountId, b.accountId) || compare(a.currency, b.currency),
    ),
  };
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
