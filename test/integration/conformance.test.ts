import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { z } from 'zod';
import { definePipeline } from '../../src/consumers/define-pipeline.ts';
import { eventVersions } from '../../src/consumers/event-versions.ts';
import { createPaymentsPipeline } from '../../src/consumers/pipelines/payments/index.ts';
import { PoisonMessageError } from '../../src/lib/errors.ts';
import {
  type ConformanceEvent,
  checkPipelineConformance,
  PipelineConformanceError,
} from '../../src/testing.ts';
import { uniqueName } from '../helpers/names.ts';
import { generatePaymentEvents } from '../helpers/payments-model.ts';

/**
 * `streamsink/testing`'s conformance check against the real Postgres: the built-in payments pipeline and a
 * correct running-total pipeline pass; pipelines broken in one way each fail, naming that property.
 */

const LINE = z.object({ orderId: z.string(), amountMinor: z.number().int() });
const ORDERS_TABLE = `CREATE TABLE orders (
  order_id text PRIMARY KEY,
  total_minor bigint NOT NULL,
  lines int NOT NULL,
  CHECK (total_minor >= 0))`;

const ordersSnapshot = async (db: { query: (q: string) => Promise<{ rows: unknown[] }> }) =>
  (await db.query('SELECT order_id, total_minor::text AS total, lines FROM orders ORDER BY order_id')).rows;

/** A running total per order, through the inbox; a negative total breaks the CHECK (class 23): poison. */
function ordersPipeline(overrides: { idempotent?: boolean; poisonAs?: 'constraint' | 'plain-error' } = {}) {
  return definePipeline({
    name: 'orders',
    events: [{ type: 'order.line_added', v: 1, schema: LINE }],
    migrations: [{ name: '0001-orders', sql: ORDERS_TABLE }],
    ...(overrides.idempotent ? { idempotent: true } : {}),
    async apply(tx, events) {
      if (overrides.poisonAs === 'plain-error' && events.some((e) => e.data.amountMinor < 0))
        throw new Error('negative amount'); // neither poison nor class 22/23: retried, never isolated
      // One row per event; Postgres sums them per order (set-based, order-independent).
      await tx.query(
        `INSERT INTO orders (order_id, total_minor, lines)
         SELECT order_id, sum(amount), count(*) FROM unnest($1::text[], $2::bigint[]) AS t(order_id, amount)
         GROUP BY order_id ORDER BY order_id COLLATE "C"
         ON CONFLICT (order_id) DO UPDATE SET total_minor = orders.total_minor + EXCLUDED.total_minor,
           lines = orders.lines + EXCLUDED.lines`,
        [events.map((e) => e.data.orderId), events.map((e) => String(e.data.amountMinor))],
      );
    },
  });
}

function orderLines(count: number, orders: number): ConformanceEvent[] {
  return Array.from({ length: count }, (_, i) => {
    const orderId = `o${i % orders}`;
    return {
      id: `line-${i}`,
      type: 'order.line_added',
      key: orderId,
      data: { orderId, amountMinor: 100 + i },
    };
  });
}

const negativeLine: ConformanceEvent = {
  id: 'line-negative',
  type: 'order.line_added',
  key: 'o-neg',
  data: { orderId: 'o-neg', amountMinor: -5 },
};

async function failure(promise: Promise<unknown>): Promise<PipelineConformanceError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(PipelineConformanceError);
  return error as PipelineConformanceError;
}

describe('checkPipelineConformance', () => {
  let databaseUrl: string;
  let admin: pg.Client;
  beforeAll(async () => {
    databaseUrl = inject('databaseUrl');
    admin = new pg.Client({ connectionString: databaseUrl });
    await admin.connect();
  });
  afterAll(async () => {
    await admin?.end();
  });

  it('passes for the built-in payments pipeline, its poison refused by check, and drops its schemas', async () => {
    const prefix = uniqueName('conf');
    const events = generatePaymentEvents({ count: 60, seed: 7, accounts: 4, prefix });
    const badCurrency = { ...events[0], id: `${prefix}-bad`, data: { ...events[0]?.data, currency: 'XXX' } };
    const report = await checkPipelineConformance({
      pipeline: createPaymentsPipeline({ currencies: ['EUR', 'USD', 'GBP'] }),
      databaseUrl,
      events: events as ConformanceEvent[],
      poison: badCurrency as ConformanceEvent,
      snapshot: async (db) => [
        (await db.query('SELECT payment_id, account_id, amount_minor::text, status FROM payments ORDER BY 1'))
          .rows,
        (
          await db.query(
            'SELECT account_id, currency, balance_minor::text FROM account_balances ORDER BY 1, 2',
          )
        ).rows,
      ],
    });
    expect(report.ok).toBe(true);
    expect(report.properties.map((p) => [p.property, p.passed])).toEqual([
      ['applies_events', true],
      ['batch_boundaries', true],
      ['idempotence', true],
      ['poison_isolation', true],
    ]);
    expect(report.properties[3]?.detail).toContain('refused before apply (unsupported_currency)');
    const { rows } = await admin.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM pg_namespace WHERE nspname = ANY($1)',
      [report.schemas],
    );
    expect(report.schemas).toHaveLength(5);
    expect(rows[0]?.n).toBe(0);
  });

  it('passes for a running total through the inbox, its poison isolated by bisection (class 23)', async () => {
    const report = await checkPipelineConformance({
      pipeline: ordersPipeline(),
      databaseUrl,
      events: orderLines(40, 3),
      poison: negativeLine,
      snapshot: ordersSnapshot,
    });
    expect(report.properties.every((p) => p.passed)).toBe(true);
    expect(report.properties[3]?.detail).toContain('line-negative isolated from its batch (data_error)');
  });

  it('fails idempotence for a running total that declares idempotent: true', async () => {
    const error = await failure(
      checkPipelineConformance({
        pipeline: ordersPipeline({ idempotent: true }),
        databaseUrl,
        events: orderLines(20, 3),
        snapshot: ordersSnapshot,
      }),
    );
    expect(error.property).toBe('idempotence');
    expect(error.message).toMatch(
      /^pipeline orders fails idempotence: the pipeline declares `idempotent: true`/,
    );
    expect(error.code).toBe('ERR_ASSERTION');
  });

  it('fails batch_boundaries for a "latest status" that keeps the first batch\'s last event', async () => {
    // A projection of each order's latest status: within a batch it keeps the last event per order, but
    // across batches ON CONFLICT DO NOTHING keeps the first batch's, so the result depends on the batching.
    const broken = definePipeline({
      name: 'order-status',
      events: [{ type: 'order.status', v: 1, schema: z.object({ orderId: z.string(), status: z.string() }) }],
      migrations: [
        { name: '0001', sql: 'CREATE TABLE order_status (order_id text PRIMARY KEY, status text)' },
      ],
      async apply(tx, events) {
        const latest = new Map(events.map((e) => [e.data.orderId, e.data.status]));
        await tx.query(
          `INSERT INTO order_status SELECT * FROM unnest($1::text[], $2::text[]) ON CONFLICT DO NOTHING`,
          [[...latest.keys()], [...latest.values()]],
        );
      },
    });
    const statuses = ['placed', 'paid', 'shipped'];
    const events = Array.from({ length: 9 }, (_, i) => ({
      id: `s-${i}`,
      type: 'order.status',
      key: `o${i % 3}`,
      data: { orderId: `o${i % 3}`, status: statuses[Math.floor(i / 3)] },
    }));
    const error = await failure(
      checkPipelineConformance({
        pipeline: broken,
        databaseUrl,
        events,
        snapshot: async (db) => (await db.query('SELECT * FROM order_status ORDER BY order_id')).rows,
      }),
    );
    expect(error.property).toBe('batch_boundaries');
    expect(error.message).toContain('in batches of 1 the snapshot differs');
    expect(error.expected).toEqual([
      { order_id: 'o0', status: 'shipped' },
      { order_id: 'o1', status: 'shipped' },
      { order_id: 'o2', status: 'shipped' },
    ]);
  });

  it('fails poison_isolation when apply refuses an event with a plain Error (retried, never isolated)', async () => {
    const error = await failure(
      checkPipelineConformance({
        pipeline: ordersPipeline({ poisonAs: 'plain-error' }),
        databaseUrl,
        events: orderLines(10, 2),
        poison: negativeLine,
        snapshot: ordersSnapshot,
      }),
    );
    expect(error.property).toBe('poison_isolation');
    expect(error.message).toContain('failed with an error that is not poison (Error: negative amount)');
  });

  it('fails poison_isolation when the "poison" event is applied; passes when apply throws PoisonMessageError', async () => {
    const lenient = await failure(
      checkPipelineConformance({
        pipeline: ordersPipeline(),
        databaseUrl,
        events: orderLines(10, 2),
        poison: { ...negativeLine, data: { orderId: 'o-neg', amountMinor: 5 } },
        snapshot: ordersSnapshot,
      }),
    );
    expect(lenient.property).toBe('poison_isolation');
    expect(lenient.message).toContain('were applied: neither the schemas, check nor apply refused them');

    const strict = definePipeline({
      ...ordersPipeline(),
      reasons: ['negative_amount'],
      async apply(tx, events, ctx) {
        const bad = events.find((e) => e.data.amountMinor < 0);
        if (bad) throw new PoisonMessageError('negative_amount', `line ${bad.id} is negative`);
        await ordersPipeline().apply?.(tx, events, ctx);
      },
    });
    const report = await checkPipelineConformance({
      pipeline: strict,
      databaseUrl,
      events: orderLines(10, 2),
      poison: negativeLine,
      snapshot: ordersSnapshot,
    });
    expect(report.properties[3]?.detail).toContain('isolated from its batch (negative_amount)');
  });

  it("passes when apply throws another package copy's PoisonMessageError (the pipeline's own node_modules)", async () => {
    // What `new PoisonMessageError(...)` from a second copy of streamsink is to this one: same code and
    // reason, another class. It must isolate the event as poison, not be retried as an unknown failure.
    class ForeignPoison extends Error {
      readonly code = 'poison_message';
      readonly reason: string;
      constructor(reason: string) {
        super(`${reason}: refused`);
        this.reason = reason;
      }
    }
    const report = await checkPipelineConformance({
      pipeline: definePipeline({
        ...ordersPipeline(),
        reasons: ['negative_amount'],
        async apply(tx, events, ctx) {
          if (events.some((e) => e.data.amountMinor < 0)) throw new ForeignPoison('negative_amount');
          await ordersPipeline().apply?.(tx, events, ctx);
        },
      }),
      databaseUrl,
      events: orderLines(10, 2),
      poison: negativeLine,
      snapshot: ordersSnapshot,
    });
    expect(report.properties[3]?.detail).toContain('isolated from its batch (negative_amount)');
  });

  it('fails applies_events when the snapshot does not observe the effects', async () => {
    const error = await failure(
      checkPipelineConformance({
        pipeline: ordersPipeline(),
        databaseUrl,
        events: orderLines(5, 2),
        snapshot: async () => [],
      }),
    );
    expect(error.property).toBe('applies_events');
  });

  it('checks upcasters: events given at v1 are upcast the same way twice; an impure upcaster fails upcasters', async () => {
    const LINE_V2 = LINE.extend({ currency: z.string().length(3) });
    const upcastingPipeline = (upcast: (d: z.output<typeof LINE>) => z.input<typeof LINE_V2>) =>
      definePipeline({
        name: 'orders',
        events: eventVersions('order.line_added', 1, LINE).upcast(LINE_V2, upcast).specs,
        migrations: [{ name: '0001-orders', sql: ORDERS_TABLE }],
        async handle(tx, event) {
          await tx.query(
            `INSERT INTO orders (order_id, total_minor, lines) VALUES ($1, $2, 1) ON CONFLICT (order_id)
             DO UPDATE SET total_minor = orders.total_minor + EXCLUDED.total_minor, lines = orders.lines + 1`,
            [event.data.orderId, event.data.amountMinor],
          );
        },
      });
    // Half the lines at v1, half at v2 already.
    const events = orderLines(10, 3).map((e, i) =>
      i % 2 === 0 ? e : { ...e, v: 2, data: { ...e.data, currency: 'USD' } },
    );
    const report = await checkPipelineConformance({
      pipeline: upcastingPipeline((d) => ({ ...d, currency: 'EUR' })),
      databaseUrl,
      events,
      snapshot: ordersSnapshot,
    });
    expect(report.properties.map((p) => [p.property, p.passed])).toContainEqual(['upcasters', true]);
    expect(report.properties.find((p) => p.property === 'upcasters')?.detail).toContain('5 events upcast');

    let calls = 0;
    const error = await failure(
      checkPipelineConformance({
        pipeline: upcastingPipeline((d) => ({ ...d, currency: calls++ % 2 === 0 ? 'EUR' : 'GBP' })),
        databaseUrl,
        events,
        snapshot: ordersSnapshot,
      }),
    );
    expect(error.property).toBe('upcasters');
    expect(error.message).toContain('upcasters must be pure');
  });
});
