/**
 * Worker CPU per payment event for the steps that need no I/O, measured in-process (so it is far less noisy
 * on a shared machine than the end-to-end bench): decode, accept, prove (content hash, input hash, decide,
 * proof), the inbox statement with its parameters as node-postgres serialises them, and `apply` (fold and
 * upsert parameters) against a stand-in connection that answers every event as new.
 *
 *   npx node bench/payments-cpu.ts [--form decide|apply] [--root <another checkout>] [--events 50000]
 *
 * Prints µs per event for each of 7 rounds of 500-event batches (the first two warm the JIT) and the median
 * of the last five, split by step. `--root` measures another checkout (a `git worktree` of an older commit
 * with a node_modules link) with this same harness.
 */
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const { values: args } = parseArgs({
  options: {
    form: { type: 'string', default: 'decide' },
    root: { type: 'string', default: fileURLToPath(new URL('..', import.meta.url)) },
    events: { type: 'string', default: '50000' },
  },
});
const ROOT = (args.root as string).replace(/\/$/, '');
const FORM = args.form === 'apply' ? 'apply' : 'decide';
const N = Number(args.events);
const BATCH = 500;
const ROUNDS = 7;

const { prepareValue } = createRequire(`${ROOT}/package.json`)('pg/lib/utils.js') as {
  prepareValue: (v: unknown) => unknown;
};
const { decodeEntry, encodeEnvelope } = await import(`${ROOT}/src/lib/envelope.ts`);
const { createPipeline } = await import(`${ROOT}/src/consumers/pipelines/index.ts`);
const { recordInInbox } = await import(`${ROOT}/src/consumers/inbox.ts`);
const { toRuntimePipeline } = await import(`${ROOT}/src/consumers/pipeline-adapter.ts`);
const { generatePaymentEvents } = await import(`${ROOT}/test/helpers/payments-model.ts`);

const pipeline =
  FORM === 'apply'
    ? toRuntimePipeline((await import(`${ROOT}/bench/payments-apply-pipeline.ts`)).default({ env: {} }))
    : createPipeline('payments', { currencies: ['EUR', 'USD', 'GBP'] });
interface Entry {
  id: string;
  fields: string[];
  deliveryCount: number;
}
const entries: Entry[] = generatePaymentEvents({ count: N, seed: 5, prefix: 'cpu-' }).map(
  (e: unknown, i: number) => ({
    id: `${i + 1}-0`,
    fields: encodeEnvelope(e as never),
    deliveryCount: 1,
  }),
);
const COLUMN_TYPES = Object.entries({
  payment_id: 'text',
  account_id: 'text',
  currency: 'text',
  amount_minor: 'bigint',
  status_rank: 'smallint',
  balance_minor: 'bigint',
  updated_at: 'timestamp with time zone',
}).map(([name, type]) => ({ name, type }));

let paramChars = 0;
/** Serialises parameters as node-postgres would; reports every event new (the inbox's usual answer). */
const tx = {
  async query(query: string | { text: string; values?: unknown[] }, params: unknown[] = []) {
    // A statement as text and values, or as node-postgres' config object (a named prepared statement).
    const { text, values = [] } = typeof query === 'string' ? { text: query, values: params } : query;
    if (text.includes('pg_attribute')) return { rows: COLUMN_TYPES };
    for (const v of values) {
      const p = prepareValue(v);
      if (typeof p === 'string') paramChars += p.length;
    }
    // The inbox statement is answered "every row went in". Its rows cross as one text parameter (rows
    // separated by U+0002) or, in older checkouts, as parallel arrays that it returned as inserted ids.
    if (text.includes('INSERT INTO streamsink_inbox')) {
      const rows = values[2];
      if (typeof rows === 'string') return { rows: [], rowCount: rows.split('\u0002').length };
      return {
        rows: (rows as string[]).map((event_id) => ({ event_id })),
        rowCount: (rows as string[]).length,
      };
    }
    return { rows: [], rowCount: 0 };
  },
};

const steps = { prove: [] as number[], inbox: [] as number[], apply: [] as number[], total: [] as number[] };
const micros = (since: NodeJS.CpuUsage) => {
  const u = process.cpuUsage(since);
  return u.user + u.system;
};

for (let r = 0; r < ROUNDS; r++) {
  const spent = { prove: 0, inbox: 0, apply: 0 };
  const start = process.cpuUsage();
  for (let b = 0; b < N; b += BATCH) {
    const items = entries.slice(b, b + BATCH).map((entry) => {
      const decoded = decodeEntry(entry.fields);
      const accepted = pipeline.accept(decoded.envelope, { entryId: entry.id, stream: 's' });
      if (!accepted.ok) throw accepted.error;
      return {
        entry,
        envelope: accepted.envelope,
        dataText: decoded.dataText,
        ...(accepted.envelope !== decoded.envelope ? { published: decoded.envelope } : {}),
      };
    });
    let t = process.cpuUsage();
    if (pipeline.prove) for (const item of items) pipeline.prove(item);
    spent.prove += micros(t);
    t = process.cpuUsage();
    const verdict = await recordInInbox(tx as never, 'payments', 's', items, pipeline.version);
    spent.inbox += micros(t);
    t = process.cpuUsage();
    await pipeline.apply(tx as never, verdict.fresh, { stream: 's', group: 'g' });
    spent.apply += micros(t);
  }
  steps.total.push(micros(start) / N);
  for (const k of ['prove', 'inbox', 'apply'] as const) steps[k].push(spent[k] / N);
}

const median = (xs: number[]) => (xs.slice(2).sort((a, b) => a - b)[2] as number).toFixed(2);
console.log(`payments (${FORM}) at ${ROOT}: ${N} events, batches of ${BATCH}`);
console.log(`  µs/event per round: ${steps.total.map((x) => x.toFixed(1)).join(' ')}`);
console.log(
  `  median of the last 5: total ${median(steps.total)} (prove ${median(steps.prove)}, inbox ${median(steps.inbox)}, apply ${median(steps.apply)}); parameter text ${(paramChars / ROUNDS / N).toFixed(0)} chars/event`,
);
