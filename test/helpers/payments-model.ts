import type pg from 'pg';

/**
 * An independent model of the payments pipeline for tests and the chaos soak: it generates payment events
 * from a seed and computes, without any streamsink code, what the `payments` and `account_balances` tables
 * must hold once every event has been applied exactly once. Comparing the tables with it is how a run proves
 * "nothing lost, nothing applied twice".
 */

export const PAYMENT_STATUSES = ['authorized', 'captured', 'refunded'] as const;
export type PaymentStatus = (typeof PAYMENT_STATUSES)[number];

export interface PaymentEventInput {
  id: string;
  type: `payment.${PaymentStatus}`;
  v: 1;
  key: string;
  ts: string;
  data: { paymentId: string; accountId: string; amountMinor: number; currency: string };
}

/** A small seeded PRNG (mulberry32): runs are reproducible from their seed. */
export function createRng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const randomInt = (rng: () => number, min: number, max: number): number =>
  min + Math.floor(rng() * (max - min + 1));

export const pick = <T>(rng: () => number, items: readonly T[]): T => {
  const item = items[Math.floor(rng() * items.length)];
  if (item === undefined) throw new RangeError('pick from an empty list');
  return item;
};

export interface GenerateOptions {
  count: number;
  seed: number;
  /** Distinct accounts; fewer means more contention on balance rows. */
  accounts?: number;
  currencies?: readonly string[];
  /** Prefix of every id, so two runs in one database never collide. */
  prefix?: string;
}

/**
 * `count` payment events: each payment is authorized, usually captured, sometimes refunded (partly), with
 * its events shuffled within small windows so they also arrive out of order.
 */
export function generatePaymentEvents(options: GenerateOptions): PaymentEventInput[] {
  const rng = createRng(options.seed);
  const accounts = options.accounts ?? 500;
  const currencies = options.currencies ?? ['EUR', 'USD', 'GBP'];
  const prefix = options.prefix ?? `s${options.seed}`;
  const events: PaymentEventInput[] = [];
  const base = Date.UTC(2026, 10, 21, 10, 0, 0);
  let p = 0;
  while (events.length < options.count) {
    const paymentId = `${prefix}-p${p}`;
    const accountId = `${prefix}-a${randomInt(rng, 0, accounts - 1)}`;
    const currency = pick(rng, currencies);
    const amount = randomInt(rng, 1, 1_000_000);
    const make = (status: PaymentStatus, amountMinor: number): PaymentEventInput => ({
      id: `${prefix}-e${events.length}`,
      type: `payment.${status}`,
      v: 1,
      key: paymentId,
      ts: new Date(base + events.length).toISOString(),
      data: { paymentId, accountId, amountMinor, currency },
    });
    events.push(make('authorized', amount));
    if (events.length < options.count && rng() < 0.8) {
      events.push(make('captured', amount));
      if (events.length < options.count && rng() < 0.25)
        events.push(make('refunded', randomInt(rng, 1, amount)));
    }
    p++;
  }
  for (let start = 0; start < events.length; start += 40) {
    const end = Math.min(events.length, start + 40);
    for (let i = end - 1; i > start; i--) {
      const j = randomInt(rng, start, i);
      [events[i], events[j]] = [events[j] as PaymentEventInput, events[i] as PaymentEventInput];
    }
  }
  return events;
}

export interface ExpectedPayment {
  accountId: string;
  currency: string;
  amountMinor: number;
  status: PaymentStatus;
}

export interface PaymentsState {
  payments: Map<string, ExpectedPayment>;
  /** `${accountId}|${currency}` -> balance in minor units. */
  balances: Map<string, bigint>;
}

const RANK: Record<PaymentStatus, number> = { authorized: 1, captured: 2, refunded: 3 };

/**
 * What the tables must hold after applying each distinct event (by id) once: a payment's row comes from its
 * highest-status event (on a tie, the larger amount); a balance is captures minus refunds, and a row exists
 * for every (account, currency) that saw a capture or refund.
 */
export function expectedState(events: Iterable<PaymentEventInput>): PaymentsState {
  const seen = new Set<string>();
  const payments = new Map<string, ExpectedPayment>();
  const balances = new Map<string, bigint>();
  for (const e of events) {
    if (seen.has(e.id)) continue;
    seen.add(e.id);
    const status = e.type.slice('payment.'.length) as PaymentStatus;
    const { paymentId, accountId, currency, amountMinor } = e.data;
    const prev = payments.get(paymentId);
    if (
      !prev ||
      RANK[status] > RANK[prev.status] ||
      (RANK[status] === RANK[prev.status] && amountMinor > prev.amountMinor)
    )
      payments.set(paymentId, { accountId, currency, amountMinor, status });
    if (status === 'authorized') continue;
    const key = `${accountId}|${currency}`;
    const delta = status === 'captured' ? BigInt(amountMinor) : -BigInt(amountMinor);
    balances.set(key, (balances.get(key) ?? 0n) + delta);
  }
  return { payments, balances };
}

/** Read the two projection tables (in the client's search_path), restricted to ids with `prefix`. */
export async function readState(client: Pick<pg.Client, 'query'>, prefix = ''): Promise<PaymentsState> {
  const like = `${prefix.replace(/[\\%_]/g, '\\$&')}%`;
  const p = await client.query(
    'SELECT payment_id, account_id, currency, amount_minor::text AS amount, status FROM payments WHERE payment_id LIKE $1',
    [like],
  );
  const b = await client.query(
    'SELECT account_id, currency, balance_minor::text AS balance FROM account_balances WHERE account_id LIKE $1',
    [like],
  );
  const payments = new Map<string, ExpectedPayment>();
  for (const r of p.rows)
    payments.set(r.payment_id, {
      accountId: r.account_id,
      currency: r.currency,
      amountMinor: Number(r.amount),
      status: r.status,
    });
  const balances = new Map<string, bigint>();
  for (const r of b.rows) balances.set(`${r.account_id}|${r.currency}`, BigInt(r.balance));
  return { payments, balances };
}

export interface StateDiff {
  /** Expected payments with no row. */
  missingPayments: number;
  /** Rows for payments that were never published as good events. */
  unexpectedPayments: number;
  /** Payments whose row differs (status, amount, account or currency). */
  wrongPayments: number;
  missingBalances: number;
  unexpectedBalances: number;
  wrongBalances: number;
  /** Sum over balances of |actual - expected|, in minor units. */
  balanceError: bigint;
  /** A few human-readable examples, for the report. */
  examples: string[];
}

export function diffState(expected: PaymentsState, actual: PaymentsState): StateDiff {
  const d: StateDiff = {
    missingPayments: 0,
    unexpectedPayments: 0,
    wrongPayments: 0,
    missingBalances: 0,
    unexpectedBalances: 0,
    wrongBalances: 0,
    balanceError: 0n,
    examples: [],
  };
  const example = (s: string) => {
    if (d.examples.length < 10) d.examples.push(s);
  };
  for (const [id, e] of expected.payments) {
    const a = actual.payments.get(id);
    if (!a) {
      d.missingPayments++;
      example(`payment ${id} missing (expected ${JSON.stringify(e)})`);
    } else if (
      a.status !== e.status ||
      a.amountMinor !== e.amountMinor ||
      a.accountId !== e.accountId ||
      a.currency !== e.currency
    ) {
      d.wrongPayments++;
      example(`payment ${id}: expected ${JSON.stringify(e)}, got ${JSON.stringify(a)}`);
    }
  }
  for (const id of actual.payments.keys())
    if (!expected.payments.has(id)) {
      d.unexpectedPayments++;
      example(`payment ${id} should not exist`);
    }
  for (const [key, e] of expected.balances) {
    const a = actual.balances.get(key);
    if (a === undefined) {
      d.missingBalances++;
      d.balanceError += e < 0n ? -e : e;
      example(`balance ${key} missing (expected ${e})`);
    } else if (a !== e) {
      d.wrongBalances++;
      d.balanceError += a > e ? a - e : e - a;
      example(`balance ${key}: expected ${e}, got ${a}`);
    }
  }
  for (const [key, a] of actual.balances)
    if (!expected.balances.has(key)) {
      d.unexpectedBalances++;
      d.balanceError += a < 0n ? -a : a;
      example(`balance ${key} should not exist (got ${a})`);
    }
  return d;
}

export function stateMatches(d: StateDiff): boolean {
  return (
    d.missingPayments + d.unexpectedPayments + d.wrongPayments === 0 &&
    d.missingBalances + d.unexpectedBalances + d.wrongBalances === 0
  );
}
