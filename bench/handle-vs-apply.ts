/**
 * What `handle` (one event at a time) costs against `apply` (one set-based statement per batch), measured
 * through the real sink: the same pipeline written both ways, run by `createPgSink` + `toRuntimePipeline`
 * (inbox rows, the pipeline's writes, COMMIT) against a real Postgres.
 *
 *   handle  per event: INSERT ... ON CONFLICT DO UPDATE SET total = total + amount   (one round trip each)
 *   apply   per batch: the batch folded by order, then ONE unnest upsert of the sums
 *
 *   npm run bench:handle -- [--events 20000] [--batch 500] [--orders 2000] [--rounds 3] [--json]
 *   DATABASE_URL (default: the local server). No Redis: only the Postgres side differs between the two.
 *
 * Events are `order.line_added` for `--orders` orders (a running total per order: NOT idempotent, so the
 * inbox is written for both). Batches are written one after the other (one transaction at a time), so the
 * figure is the cost of a batch, not of contention. Each round gives each variant a fresh schema (migrated
 * before the clock starts, dropped after) and alternates which goes first; the median events/s is printed,
 * and each run checks that the totals are exactly the sums of the events.
 */
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { z } from 'zod';
import { type AnyPipeline, definePipeline } from '../src/consumers/define-pipeline.ts';
import { createPgSink } from '../src/consumers/pg-sink.ts';
import { toRuntimePipeline } from '../src/consumers/pipeline-adapter.ts';
import type { AcceptedItem } from '../src/consumers/types.ts';
import { migrate } from '../src/lib/migrations.ts';
import { createPool } from '../src/lib/pg.ts';

const { values } = parseArgs({
  options: {
    events: { type: 'string', default: '20000' },
    batch: { type: 'string', default: '500' },
    orders: { type: 'string', default: '2000' },
    rounds: { type: 'string', default: '3' },
    json: { type: 'boolean', default: false },
  },
});
function positive(name: string, text: string | undefined): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name}: expected a positive integer, got ${text}`);
  return n;
}
const N = positive('events', values.events);
const BATCH = positive('batch', values.batch);
const ORDERS = positive('orders', values.orders);
const ROUNDS = positive('rounds', values.rounds);
const DATABASE_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const RUN = randomBytes(4).toString('hex');

const EVENTS = [
  {
    type: 'order.line_added',
    v: 1,
    schema: z.object({ orderId: z.string(), amountMinor: z.number().int() }),
  },
] as const;

const MIGRATIONS = [
  {
    name: '0001-order-totals',
    sql: 'CREATE TABLE order_totals (order_id text PRIMARY KEY, total_minor bigint NOT NULL, lines int NOT NULL)',
  },
];

const UPSERT_ONE = `
INSERT INTO order_totals (order_id, total_minor, lines) VALUES ($1, $2, 1)
ON CONFLICT (order_id) DO UPDATE SET
  total_minor = order_totals.total_minor + EXCLUDED.total_minor, lines = order_totals.lines + 1`;

const UPSERT_MANY = `
INSERT INTO order_totals (order_id, total_minor, lines)
SELECT * FROM unnest($1::text[], $2::bigint[], $3::int[]) AS t(order_id, total_minor, lines)
ORDER BY order_id COLLATE "C"
ON CONFLICT (order_id) DO UPDATE SET
  total_minor = order_totals.total_minor + EXCLUDED.total_minor,
  lines = order_totals.lines + EXCLUDED.lines`;

const VARIANTS: Record<'handle' | 'apply', AnyPipeline> = {
  handle: definePipeline({
    name: 'bench-handle',
    events: EVENTS,
    migrations: MIGRATIONS,
    async handle(tx, event) {
      await tx.query(UPSERT_ONE, [event.data.orderId, event.data.amountMinor]);
    },
  }),
  apply: definePipeline({
    name: 'bench-apply',
    events: EVENTS,
    migrations: MIGRATIONS,
    async apply(tx, events) {
      // Folded first: ON CONFLICT DO UPDATE cannot touch one row twice in a statement.
      const sums = new Map<string, { total: number; lines: number }>();
      for (const e of events) {
        const s = sums.get(e.data.orderId);
        if (s) {
          s.total += e.data.amountMinor;
          s.lines += 1;
        } else sums.set(e.data.orderId, { total: e.data.amountMinor, lines: 1 });
      }
      const ids = [...sums.keys()];
      await tx.query(UPSERT_MANY, [
        ids,
        ids.map((id) => sums.get(id)?.total),
        ids.map((id) => sums.get(id)?.lines),
      ]);
    },
  }),
};

type Variant = keyof typeof VARIANTS;

/** The batches, accepted (schema-checked) by the runtime pipeline before the clock starts. */
function makeBatches(definition: AnyPipeline): { batches: AcceptedItem[][]; expected: Map<string, number> } {
  const runtime = toRuntimePipeline(definition);
  const expected = new Map<string, number>();
  const items: AcceptedItem[] = [];
  for (let i = 0; i < N; i++) {
    const orderId = `ord-${(i * 7919) % ORDERS}`;
    const amountMinor = 100 + (i % 97);
    expected.set(orderId, (expected.get(orderId) ?? 0) + amountMinor);
    const entryId = `1800000000000-${i}`;
    const envelope = {
      id: `evt-${RUN}-${i}`,
      type: 'order.line_added',
      v: 1,
      key: orderId,
      ts: '2026-12-01T12:00:00.000Z',
      data: { orderId, amountMinor },
    };
    const accepted = runtime.accept(envelope, { entryId, stream: 'orders' });
    if (!accepted.ok) throw accepted.error;
    items.push({ entry: { id: entryId, fields: [], deliveryCount: 1 }, envelope: accepted.envelope });
  }
  const batches: AcceptedItem[][] = [];
  for (let i = 0; i < items.length; i += BATCH) batches.push(items.slice(i, i + BATCH));
  return { batches, expected };
}

async function runOnce(variant: Variant): Promise<number> {
  const definition = VARIANTS[variant];
  const schema = `bench_handle_${RUN}_${variant}`;
  const admin = new pg.Client({ connectionString: DATABASE_URL });
  await admin.connect();
  await admin.query(`CREATE SCHEMA "${schema}"`);
  const url = new URL(DATABASE_URL);
  url.searchParams.set('options', `-c search_path=${schema}`);
  const pool = createPool({ url: url.toString(), poolSize: 2 }, { applicationName: 'bench-handle' });
  try {
    await migrate(pool, undefined, { pipelines: [definition] });
    const { batches, expected } = makeBatches(definition);
    const sink = createPgSink({
      pool,
      pipeline: toRuntimePipeline(definition),
      stream: 'orders',
      group: 'g',
    });
    await sink.write([]); // the first write adopts schema-1 inbox rows (none here): outside the clock
    const start = process.hrtime.bigint();
    let applied = 0;
    for (const batch of batches) {
      const result = await sink.write(batch);
      if (result.poison.length + result.failed.length > 0)
        throw new Error(
          `${variant}: a batch failed: ${String(result.failed[0]?.error ?? result.poison[0]?.error)}`,
        );
      applied += result.applied.length;
    }
    const seconds = Number(process.hrtime.bigint() - start) / 1e9;
    if (applied !== N) throw new Error(`${variant}: applied ${applied} of ${N}`);
    const { rows } = await pool.query<{ order_id: string; total_minor: string }>(
      'SELECT order_id, total_minor FROM order_totals',
    );
    const wrong = rows.filter((r) => Number(r.total_minor) !== expected.get(r.order_id));
    if (rows.length !== expected.size || wrong.length > 0)
      throw new Error(`${variant}: ${rows.length} totals for ${expected.size} orders, ${wrong.length} wrong`);
    return N / seconds;
  } finally {
    await pool.end();
    await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await admin.end();
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

const rates: Record<Variant, number[]> = { handle: [], apply: [] };
for (let round = 0; round < ROUNDS; round++) {
  const order: Variant[] = round % 2 === 0 ? ['apply', 'handle'] : ['handle', 'apply'];
  for (const variant of order) rates[variant].push(await runOnce(variant));
}
const apply = median(rates.apply);
const handle = median(rates.handle);
const summary = {
  events: N,
  batch: BATCH,
  orders: ORDERS,
  rounds: ROUNDS,
  applyEventsPerSecond: Math.round(apply),
  handleEventsPerSecond: Math.round(handle),
  ratio: Number((apply / handle).toFixed(2)),
};
if (values.json) console.log(JSON.stringify(summary));
else {
  console.log(`${N} events, batches of ${BATCH}, ${ORDERS} orders, median of ${ROUNDS} rounds`);
  console.log(`  apply  (one unnest upsert per batch)  ${summary.applyEventsPerSecond} events/s`);
  console.log(`  handle (one upsert per event)         ${summary.handleEventsPerSecond} events/s`);
  console.log(`  apply / handle                        ${summary.ratio}x`);
}
