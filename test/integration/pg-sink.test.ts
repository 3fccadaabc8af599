import net from 'node:net';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createPgSink } from '../../src/consumers/pg-sink.ts';
import { createPipeline } from '../../src/consumers/pipelines/index.ts';
import type { AcceptedItem, Pipeline, SinkResult } from '../../src/consumers/types.ts';
import { type Envelope, encodeEnvelope } from '../../src/lib/envelope.ts';
import { TransientError } from '../../src/lib/errors.ts';
import { createWorkerMetrics } from '../../src/lib/metrics.ts';
import { migrate } from '../../src/lib/migrations.ts';
import { createPool, type Pool } from '../../src/lib/pg.ts';
import { uniqueName } from '../helpers/names.ts';
import { createTestSchema, type TestSchema } from '../helpers/pg.ts';
import { waitFor } from '../helpers/wait.ts';

const CURRENCIES = ['EUR', 'USD', 'GBP'];
const TYPES = ['payment.authorized', 'payment.captured', 'payment.refunded'] as const;

let schema: TestSchema;
let admin: Pool;
const pools: Pool[] = [];

function pool(size = 2, url = schema.url, applicationName?: string): Pool {
  const p = createPool({ url, poolSize: size }, applicationName ? { applicationName } : {});
  pools.push(p);
  return p;
}

let entrySeq = 0;
function item(envelope: Envelope): AcceptedItem {
  entrySeq += 1;
  return { entry: { id: `${entrySeq}-0`, fields: encodeEnvelope(envelope), deliveryCount: 1 }, envelope };
}

function logEvent(id: string, data: Record<string, unknown>): AcceptedItem {
  return item({ id, type: 'thing.happened', v: 1, key: 'k', ts: '2026-11-21T10:00:00.000Z', data });
}

interface Payment {
  paymentId: string;
  accountId: string;
  currency: string;
}
function paymentEvent(
  id: string,
  type: (typeof TYPES)[number],
  p: Payment,
  amountMinor: number,
): AcceptedItem {
  return item({
    id,
    type,
    v: 1,
    key: p.paymentId,
    ts: '2026-11-21T10:00:00.000Z',
    data: { ...p, amountMinor },
  });
}

/** What the batch does to balances, computed independently of the fold: +capture, -refund. */
function expectedBalances(items: readonly AcceptedItem[]): Map<string, bigint> {
  const sums = new Map<string, bigint>();
  for (const { envelope } of items) {
    const d = envelope.data as { accountId: string; currency: string; amountMinor: number };
    const sign = envelope.type === 'payment.captured' ? 1n : envelope.type === 'payment.refunded' ? -1n : 0n;
    if (sign === 0n) continue;
    const key = `${d.accountId}/${d.currency}`;
    sums.set(key, (sums.get(key) ?? 0n) + sign * BigInt(d.amountMinor));
  }
  return sums;
}

async function balances(db: Pool, prefix: string): Promise<Map<string, bigint>> {
  const { rows } = await db.query<{ account_id: string; currency: string; balance_minor: string }>(
    'SELECT account_id, currency, balance_minor FROM account_balances WHERE account_id LIKE $1',
    [`${prefix}%`],
  );
  return new Map(rows.map((r) => [`${r.account_id}/${r.currency}`, BigInt(r.balance_minor)]));
}

async function count(db: Pool, sql: string, params: unknown[]): Promise<number> {
  const { rows } = await db.query<{ n: string }>(sql, params);
  return Number(rows[0]?.n);
}

/** A deterministic pseudo-random generator, so a failure can be replayed. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function randomPayments(prefix: string, accounts: number, payments: number, seed: number): Payment[] {
  const r = rng(seed);
  return Array.from({ length: payments }, (_, i) => ({
    paymentId: `${prefix}-p${i}`,
    accountId: `${prefix}-a${Math.floor(r() * accounts)}`,
    currency: CURRENCIES[Math.floor(r() * CURRENCIES.length)] as string,
  }));
}

function randomEvents(prefix: string, payments: readonly Payment[], n: number, seed: number): AcceptedItem[] {
  const r = rng(seed);
  return Array.from({ length: n }, (_, i) => {
    const p = payments[Math.floor(r() * payments.length)] as Payment;
    const type = TYPES[Math.floor(r() * TYPES.length)] as (typeof TYPES)[number];
    return paymentEvent(`${prefix}-e${seed}-${i}`, type, p, 1 + Math.floor(r() * 1_000_000));
  });
}

beforeAll(async () => {
  schema = await createTestSchema(inject('databaseUrl'), 'sink');
  admin = pool(4);
  await migrate(admin);
});

afterAll(async () => {
  await Promise.all(pools.map((p) => p.end()));
  await schema.drop();
});

describe('pg sink', () => {
  it('commits 499 of 500 event-log events and isolates the one Postgres refuses (22P05) as poison', async () => {
    const group = uniqueName('g');
    const registry = new Registry();
    const metrics = createWorkerMetrics(registry);
    const logged: Array<{ obj: Record<string, unknown>; msg: string | undefined }> = [];
    const sink = createPgSink({
      pool: pool(),
      pipeline: createPipeline('event-log', { currencies: CURRENCIES }),
      stream: 'log',
      group,
      metrics,
      logger: { warn: (obj, msg) => logged.push({ obj: obj as Record<string, unknown>, msg }) },
    });
    const prefix = uniqueName('ev');
    const items = Array.from({ length: 500 }, (_, i) =>
      logEvent(`${prefix}-${i}`, i === 137 ? { note: 'nul \u0000 inside' } : { n: i, nested: { ok: true } }),
    );
    const result = await sink.write(items);
    expect(result.applied).toHaveLength(499);
    expect(result.duplicates).toHaveLength(0);
    expect(result.failed).toHaveLength(0);
    expect(result.poison).toHaveLength(1);
    expect(result.poison[0]?.item.envelope.id).toBe(`${prefix}-137`);
    expect(result.poison[0]?.error.reason).toBe('data_error');
    expect(result.poison[0]?.error.message).toMatch(/^22P05 /);
    // Logged once for the bisection and once for the isolated event, with the SQLSTATE and never the payload.
    expect(logged.map((l) => l.msg)).toEqual([
      'batch failed for a non-transient reason; bisecting it to isolate the bad event',
      'event isolated as poison',
    ]);
    expect(logged[1]?.obj).toMatchObject({
      eventId: `${prefix}-137`,
      reason: 'data_error',
      error: 'SQLSTATE 22P05',
    });
    expect(JSON.stringify(logged)).not.toContain('nul');

    expect(
      await count(admin, 'SELECT count(*) AS n FROM event_log WHERE event_id LIKE $1', [`${prefix}-%`]),
    ).toBe(499);
    // Idempotent by (stream, event id): the archive writes no inbox rows.
    expect(
      await count(admin, 'SELECT count(*) AS n FROM streamsink_inbox WHERE event_id LIKE $1', [
        `${prefix}-%`,
      ]),
    ).toBe(0);
    const archived = await admin.query(
      'SELECT stream, type, v, key, payload FROM event_log WHERE event_id = $1',
      [`${prefix}-5`],
    );
    expect(archived.rows[0]).toEqual({
      stream: 'log',
      type: 'thing.happened',
      v: 1,
      key: 'k',
      payload: { n: 5, nested: { ok: true } },
    });
    expect(await registry.getSingleMetricAsString('streamsink_postgres_errors_total')).toMatch(
      /class="data"} \d+/,
    );

    // Another group archiving the same stream writes the same rows: nothing more is archived.
    const other = createPgSink({
      pool: pool(),
      pipeline: createPipeline('event-log', { currencies: CURRENCIES }),
      stream: 'log',
      group: uniqueName('g'),
    });
    const again = await other.write(items.filter((_, i) => i !== 137));
    expect(again.applied).toHaveLength(499);
    expect(again.poison).toHaveLength(0);
    expect(
      await count(admin, 'SELECT count(*) AS n FROM event_log WHERE event_id LIKE $1', [`${prefix}-%`]),
    ).toBe(499);
  });

  it('archives the payload text as read (numbers exact); archiving it again changes nothing', async () => {
    const prefix = uniqueName('raw');
    const text = '{"big":12345678901234567890,"x":1.10,"k":2}';
    const raw: AcceptedItem = { ...logEvent(`${prefix}-0`, JSON.parse(text)), dataText: text };
    const sink = createPgSink({
      pool: pool(),
      pipeline: createPipeline('event-log', { currencies: CURRENCIES }),
      stream: 'log',
      group: uniqueName('g'),
    });
    expect((await sink.write([raw])).applied).toEqual([raw]);
    const { rows } = await admin.query('SELECT payload::text AS p FROM event_log WHERE event_id = $1', [
      `${prefix}-0`,
    ]);
    expect(rows[0]).toEqual({ p: '{"k": 2, "x": 1.10, "big": 12345678901234567890}' });
    // A redelivery (its text in another key order) is the same event: no conflict, still one row.
    const reordered = '{"k":2, "big":12345678901234567890, "x":1.10}';
    const again: AcceptedItem = { ...logEvent(`${prefix}-0`, JSON.parse(reordered)), dataText: reordered };
    const second = await sink.write([again]);
    expect(second.poison).toHaveLength(0);
    expect(
      await count(admin, 'SELECT count(*) AS n FROM event_log WHERE event_id = $1', [`${prefix}-0`]),
    ).toBe(1);
  });

  it('isolates a payments event refused by a typed poison; the other 499 commit exactly once', async () => {
    const prefix = uniqueName('pp');
    const payments = randomPayments(prefix, 20, 200, 1);
    const items = randomEvents(prefix, payments, 500, 2);
    const bad = paymentEvent(
      `${prefix}-jpy`,
      'payment.captured',
      { ...(payments[0] as Payment), currency: 'JPY' },
      5,
    );
    items.splice(311, 1, bad);
    const sink = createPgSink({
      pool: pool(),
      pipeline: createPipeline('payments', { currencies: CURRENCIES }),
      stream: 'payments',
      group: uniqueName('g'),
    });
    const result = await sink.write(items);
    expect(result.applied).toHaveLength(499);
    expect(result.poison.map((p) => [p.item.envelope.id, p.error.reason])).toEqual([
      [`${prefix}-jpy`, 'unsupported_currency'],
    ]);
    const good = items.filter((i) => i !== bad);
    expect(await balances(admin, prefix)).toEqual(expectedBalances(good));

    // The same batch again: every event is a duplicate and nothing moves.
    const before = await balances(admin, prefix);
    const second = await sink.write(good);
    expect(second.applied).toHaveLength(0);
    expect(second.duplicates).toHaveLength(499);
    expect(await balances(admin, prefix)).toEqual(before);
  });

  it('isolates a capture that would overflow a bigint balance as data_error; it never wraps', async () => {
    const prefix = uniqueName('ov');
    const rich = { paymentId: `${prefix}-rich`, accountId: `${prefix}-rich`, currency: 'EUR' };
    const max = 9223372036854775807n;
    await admin.query(
      'INSERT INTO account_balances (account_id, currency, balance_minor) VALUES ($1, $2, $3)',
      [rich.accountId, 'EUR', (max - 1000n).toString()],
    );
    const payments = randomPayments(prefix, 10, 100, 31);
    const items = randomEvents(prefix, payments, 120, 32);
    const over = paymentEvent(`${prefix}-over`, 'payment.captured', rich, 5000);
    items.splice(60, 0, over);
    const sink = createPgSink({
      pool: pool(),
      pipeline: createPipeline('payments', { currencies: CURRENCIES }),
      stream: 'payments',
      group: uniqueName('g'),
    });
    const result = await sink.write(items);
    expect(result.applied).toHaveLength(120);
    expect(result.poison.map((p) => [p.item.envelope.id, p.error.reason])).toEqual([
      [`${prefix}-over`, 'data_error'],
    ]);
    expect(result.poison[0]?.error.message).toMatch(/^22003 /);
    const after = await balances(admin, prefix);
    expect(after.get(`${rich.accountId}/EUR`)).toBe(max - 1000n);
    after.delete(`${rich.accountId}/EUR`);
    expect(after).toEqual(expectedBalances(items.filter((i) => i !== over)));
  });

  it('reports a repeat inside one batch as a duplicate and applies the event once', async () => {
    const prefix = uniqueName('rp');
    const p = { paymentId: `${prefix}-p`, accountId: `${prefix}-a`, currency: 'EUR' };
    const first = paymentEvent(`${prefix}-e1`, 'payment.captured', p, 100);
    const repeat = item(first.envelope);
    const sink = createPgSink({
      pool: pool(),
      pipeline: createPipeline('payments', { currencies: CURRENCIES }),
      stream: 'payments',
      group: uniqueName('g'),
    });
    const result = await sink.write([first, repeat]);
    expect(result.applied).toEqual([first]);
    expect(result.duplicates).toEqual([repeat]);
    expect(await balances(admin, prefix)).toEqual(new Map([[`${p.accountId}/EUR`, 100n]]));
    const row = await admin.query('SELECT status, amount_minor FROM payments WHERE payment_id = $1', [
      p.paymentId,
    ]);
    expect(row.rows[0]).toEqual({ status: 'captured', amount_minor: '100' });
  });

  it('leaves an event failing for an unknown reason as failed, and commits the rest', async () => {
    const inner = createPipeline('event-log', { currencies: CURRENCIES });
    const prefix = uniqueName('uf');
    const cursed = `${prefix}-13`;
    const pipeline: Pipeline = {
      ...inner,
      async apply(tx, items, context) {
        if (items.some((i) => i.envelope.id === cursed)) throw new Error('a bug, not the data');
        await inner.apply(tx, items, context);
      },
    };
    const sink = createPgSink({ pool: pool(), pipeline, stream: 'log', group: uniqueName('g') });
    const items = Array.from({ length: 40 }, (_, i) => logEvent(`${prefix}-${i}`, { i }));
    const result = await sink.write(items);
    expect(result.applied).toHaveLength(39);
    expect(result.poison).toHaveLength(0);
    expect(result.failed.map((f) => f.item.envelope.id)).toEqual([cursed]);
  });

  // Shared payments make transactions queue on payment rows first; payments of its own per batch leave only the
  // balance rows shared, so both lock orders are exercised.
  it.each([
    ['3,000 payments shared by all batches', 3000],
    ['payments of its own per batch', 0],
  ])(
    'keeps balances exact with 4 sinks racing on 50 shared accounts (%s), no error surfacing',
    async (_what, shared) => {
      const prefix = uniqueName('race');
      const batches = Array.from({ length: 80 }, (_, b) =>
        shared > 0
          ? randomEvents(prefix, randomPayments(prefix, 50, shared, 11), 500, 100 + b)
          : randomEvents(
              `${prefix}-b${b}`,
              randomPayments(prefix, 50, 500, 200 + b).map((p, i) => ({
                ...p,
                paymentId: `${prefix}-b${b}-p${i}`,
              })),
              500,
              100 + b,
            ),
      );
      const pipeline = createPipeline('payments', { currencies: CURRENCIES });
      const group = uniqueName('g');
      const sinks = Array.from({ length: 4 }, () =>
        createPgSink({ pool: pool(2), pipeline, stream: 'payments', group }),
      );
      // Each sink writes its 20 batches two at a time, and also one batch of its neighbour's (a redelivery
      // racing the first delivery), so the inbox sees the same event ids in two transactions at once.
      const results: SinkResult[] = [];
      await Promise.all(
        sinks.map(async (sink, s) => {
          const mine = batches.filter((_, b) => b % 4 === s);
          const work = [...mine, batches[(s + 1) % 4] as AcceptedItem[]];
          const lanes = [0, 1].map(async (lane) => {
            for (let i = lane; i < work.length; i += 2)
              results.push(await sink.write(work[i] as AcceptedItem[]));
          });
          await Promise.all(lanes);
        }),
      );
      const all = batches.flat();
      expect(results.flatMap((r) => [...r.poison, ...r.failed])).toEqual([]);
      expect(results.reduce((n, r) => n + r.applied.length, 0)).toBe(all.length);
      expect(results.reduce((n, r) => n + r.duplicates.length, 0)).toBe(4 * 500);
      expect(await balances(admin, prefix)).toEqual(expectedBalances(all));

      // Status is the highest seen per payment, whatever the interleaving.
      const highest = new Map<string, number>();
      for (const { envelope } of all) {
        const id = (envelope.data as { paymentId: string }).paymentId;
        highest.set(id, Math.max(highest.get(id) ?? 0, TYPES.indexOf(envelope.type as never) + 1));
      }
      const { rows } = await admin.query<{ payment_id: string; status_rank: number }>(
        'SELECT payment_id, status_rank FROM payments WHERE payment_id LIKE $1',
        [`${prefix}-%`],
      );
      expect(new Map(rows.map((r) => [r.payment_id, r.status_rank]))).toEqual(highest);
    },
  );

  it('throws TransientError when its backend is terminated mid-transaction, leaving nothing half-applied', async () => {
    const prefix = uniqueName('tr');
    const payments = randomPayments(prefix, 5, 50, 21);
    const items = randomEvents(prefix, payments, 200, 22).map((i, n) =>
      n === 0 ? paymentEvent(`${prefix}-cap`, 'payment.captured', payments[0] as Payment, 10) : i,
    );
    const appName = uniqueName('sinkapp');
    const sinkPool = pool(1, schema.url, appName);
    const group = uniqueName('g');
    const sink = createPgSink({
      pool: sinkPool,
      pipeline: createPipeline('payments', { currencies: CURRENCIES }),
      stream: 'payments',
      group,
    });
    // Block the sink between its inbox rows and its balance upsert: the transaction holds locks when killed.
    const blocker = await admin.connect();
    try {
      await blocker.query('BEGIN');
      await blocker.query('LOCK TABLE account_balances IN SHARE ROW EXCLUSIVE MODE');
      const write = sink.write(items);
      write.catch(() => {});
      const pid = await waitFor(async () => {
        const { rows } = await admin.query<{ pid: number }>(
          "SELECT pid FROM pg_stat_activity WHERE application_name = $1 AND wait_event_type = 'Lock'",
          [appName],
        );
        return rows[0]?.pid;
      });
      await admin.query('SELECT pg_terminate_backend($1)', [pid]);
      const error = await write.then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(TransientError);
      expect((error as TransientError).cause).toBeDefined();
    } finally {
      await blocker.query('ROLLBACK');
      blocker.release();
    }
    expect(
      await count(admin, 'SELECT count(*) AS n FROM streamsink_inbox WHERE event_id LIKE $1', [
        `${prefix}-%`,
      ]),
    ).toBe(0);
    expect(
      await count(admin, 'SELECT count(*) AS n FROM payments WHERE payment_id LIKE $1', [`${prefix}-%`]),
    ).toBe(0);

    // The pool discarded the dead client: the retry of the whole batch on the same sink applies it exactly once.
    const retry = await sink.write(items);
    expect(retry.applied).toHaveLength(items.length);
    expect(await balances(admin, prefix)).toEqual(expectedBalances(items));
  });

  it('throws TransientError, never poison or failed, when the schema is missing its tables (42P01)', async () => {
    // A schema nobody migrated: every write fails alike, which is the database's fault, not the events'.
    const bare = await createTestSchema(inject('databaseUrl'), 'bare');
    try {
      const sink = createPgSink({
        pool: pool(1, bare.url),
        pipeline: createPipeline('event-log', { currencies: CURRENCIES }),
        stream: 'log',
        group: uniqueName('g'),
      });
      const items = Array.from({ length: 8 }, () => logEvent(uniqueName('x'), {}));
      await expect(sink.write(items)).rejects.toBeInstanceOf(TransientError);
    } finally {
      await bare.drop();
    }
  });

  it('throws TransientError, never poison, when Postgres cannot be reached', async () => {
    const port = await closedPort();
    const sink = createPgSink({
      pool: pool(1, `postgres://postgres@127.0.0.1:${port}/test`),
      pipeline: createPipeline('event-log', { currencies: CURRENCIES }),
      stream: 'log',
      group: uniqueName('g'),
    });
    await expect(sink.write([logEvent(uniqueName('x'), {})])).rejects.toBeInstanceOf(TransientError);
  });
});

async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
