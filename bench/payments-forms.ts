/**
 * The payments pipeline's two forms through the real sink (inbox rows with proofs, the pipeline's writes,
 * COMMIT) on a real Postgres, no Redis: `apply` (the hand-written SQL it had, bench/payments-apply-pipeline.ts)
 * against `decide` (the built-in: streamsink folds, writes and proves). Batches are written one after the
 * other; each round gives each form a fresh schema and alternates which goes first; medians are printed, and
 * each run checks both forms wrote the same balances.
 *
 *   npx node bench/payments-forms.ts [--events 30000] [--batch 500] [--rounds 5] [--json]
 *   DATABASE_URL (default: the local server).
 */
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import pg from 'pg';
import type { AnyPipeline } from '../src/consumers/define-pipeline.ts';
import { createPgSink } from '../src/consumers/pg-sink.ts';
import { toRuntimePipeline } from '../src/consumers/pipeline-adapter.ts';
import { createPaymentsPipeline } from '../src/consumers/pipelines/payments/index.ts';
import type { AcceptedItem } from '../src/consumers/types.ts';
import { migrate } from '../src/lib/migrations.ts';
import { createPool } from '../src/lib/pg.ts';
import paymentsApply from './payments-apply-pipeline.ts';

const { values } = parseArgs({
  options: {
    events: { type: 'string', default: '30000' },
    batch: { type: 'string', default: '500' },
    rounds: { type: 'string', default: '5' },
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
const ROUNDS = positive('rounds', values.rounds);
const DATABASE_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const RUN = randomBytes(4).toString('hex');
const TYPES = ['payment.authorized', 'payment.captured', 'payment.refunded'] as const;

function events(tag: string): AcceptedItem[] {
  return Array.from({ length: N }, (_, i) => {
    const payment = Math.floor(i / 3);
    const type = i % 3 === 2 && payment % 5 !== 0 ? 'payment.captured' : (TYPES[i % 3] as string);
    const paymentId = `p-${RUN}-${payment}`;
    return {
      entry: { id: `${i + 1}-0`, fields: [], deliveryCount: 1 },
      envelope: {
        id: `${tag}-${RUN}-${i}`,
        type,
        v: 1,
        key: paymentId,
        ts: '2026-12-01T00:00:00.000Z',
        data: {
          paymentId,
          accountId: `acct-${payment % 1000}`,
          amountMinor: 100 + (payment % 900),
          currency: 'EUR',
        },
      },
    };
  });
}

const forms: Record<string, () => AnyPipeline> = {
  apply: () => paymentsApply({ env: {} }),
  decide: () => createPaymentsPipeline({ currencies: ['EUR', 'USD', 'GBP'] }),
};

async function once(form: string, round: number): Promise<{ rate: number; balances: string }> {
  const schema = `bench_pf_${form}_${round}_${RUN}`;
  const admin = new pg.Client({ connectionString: DATABASE_URL });
  await admin.connect();
  await admin.query(`CREATE SCHEMA "${schema}"`);
  const url = new URL(DATABASE_URL);
  url.searchParams.set('options', `-c search_path=${schema}`);
  const definition = (forms[form] as () => AnyPipeline)();
  const pool = createPool({ url: url.toString(), poolSize: 2 });
  try {
    await migrate(pool, undefined, { pipelines: [definition] });
    const sink = createPgSink({ pool, pipeline: toRuntimePipeline(definition), stream: 'bench', group: 'g' });
    const items = events(form);
    const started = performance.now();
    for (let i = 0; i < items.length; i += BATCH) {
      const result = await sink.write(items.slice(i, i + BATCH));
      if (result.applied.length !== Math.min(BATCH, items.length - i))
        throw new Error(`${form}: not all applied`);
    }
    const seconds = (performance.now() - started) / 1000;
    const { rows } = await pool.query(
      "SELECT string_agg(account_id || '=' || balance_minor, ',' ORDER BY account_id) AS b FROM account_balances",
    );
    return { rate: N / seconds, balances: String(rows[0]?.b) };
  } finally {
    await pool.end();
    await admin.query(`DROP SCHEMA "${schema}" CASCADE`);
    await admin.end();
  }
}

const rates: Record<string, number[]> = { apply: [], decide: [] };
for (let round = 0; round < ROUNDS; round++) {
  const order = round % 2 === 0 ? ['apply', 'decide'] : ['decide', 'apply'];
  const balances: string[] = [];
  for (const form of order) {
    const r = await once(form, round);
    rates[form]?.push(r.rate);
    balances.push(r.balances);
    process.stderr.write(`  round ${round + 1} ${form}: ${r.rate.toFixed(0)} events/s\n`);
  }
  if (balances[0] !== balances[1]) throw new Error('the two forms wrote different balances');
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)] as number;
const apply = median(rates.apply as number[]);
const decide = median(rates.decide as number[]);
if (values.json)
  process.stdout.write(`${JSON.stringify({ events: N, batch: BATCH, rounds: ROUNDS, apply, decide })}\n`);
else
  process.stdout.write(
    `payments, ${N} events in batches of ${BATCH}, median of ${ROUNDS} alternating rounds:\n` +
      `  apply (hand-written SQL)  ${apply.toFixed(0)} events/s\n  decide (+ proofs)         ${decide.toFixed(0)} events/s\n` +
      `  decide / apply            ${(decide / apply).toFixed(2)}\n`,
  );
