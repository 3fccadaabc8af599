/**
 * Worker throughput, end to end (preloaded stream -> committed in Postgres -> acknowledged), for the
 * event-log pipeline, against two baselines measured in the same run on the same events:
 *
 *   naive        XREADGROUP COUNT 100, then per message one INSERT (autocommit) and one XACK
 *   bullmq       the same events as BullMQ jobs, a Worker with concurrency 50, the same upsert per job
 *   reference    the plain batched worker (bench/reference-worker.ts): 2 processes x 2 batches in flight, each
 *                XREADGROUP 500 -> fold duplicates -> one `unnest` upsert -> one XACK; no inbox, no dead letters
 *   streamsink   `streamsink worker` child processes (1, then 2) on one consumer group
 *   payments-1   one `streamsink worker` running the payments pipeline on payment events (balances checked
 *                against an independent model after the run)
 *
 *   npx node bench/worker.ts [--events 100000] [--rounds 3] [--only naive,bullmq,reference,streamsink-1,...] [--json]
 *
 * The two payments variants compare the two forms of the `payments` pipeline on the same payment events, one
 * worker process each, interleaved round by round: `payments-apply` (the SQL `apply` it had before its port,
 * bench/payments-apply-pipeline.ts) and `payments-decide` (the built-in: `decide` with a proof per event).
 * Both are checked against the independent model of test/helpers/payments-model.ts after each run.
 *   REDIS_URL, DATABASE_URL (defaults: local servers); STREAMSINK_* variables pass through to the workers.
 *
 * Each variant gets its own stream, group and Postgres schema (migrated before the clock starts), and every
 * key and schema the bench creates is deleted at the end. The clock starts at the first read of the stream
 * (for streamsink: once every process has joined; what was acknowledged before that is not counted, so
 * start-up is never measured) and stops when every entry is acknowledged. CPU is user+system time of
 * the worker process(es) over that window (/proc/<pid>/stat for children, process.cpuUsage() in-process);
 * the CPU of the Postgres backends serving the variant is shown beside it when Postgres runs on this machine
 * (Redis CPU is not counted). Each variant checks that Postgres holds exactly N rows.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Worker as BullWorker, Queue } from 'bullmq';
import { Redis } from 'ioredis';
import pg from 'pg';
import { type Envelope, encodeEnvelope } from '../src/lib/envelope.ts';
import { streamKeys } from '../src/lib/redis/keys.ts';
import {
  diffState,
  expectedState,
  generatePaymentEvents,
  readState,
  stateMatches,
} from '../test/helpers/payments-model.ts';
import { benchContext, stopChild } from './lib/fixtures.ts';
import { imageNodeFlags } from './lib/image-flags.ts';
import { type Measured, throughputReport } from './lib/throughput-report.ts';

const VARIANTS = [
  'naive',
  'bullmq',
  'reference',
  'streamsink-1',
  'streamsink-2',
  'payments-apply',
  'payments-decide',
] as const;
/** Measured `rounds` times, interleaved; the others once. */
const REPEATED: readonly VariantName[] = [
  'reference',
  'streamsink-1',
  'streamsink-2',
  'payments-apply',
  'payments-decide',
];
type VariantName = (typeof VARIANTS)[number];

const { values } = parseArgs({
  options: {
    events: { type: 'string', default: process.env.BENCH_EVENTS ?? '100000' },
    only: {
      type: 'string',
      default: process.env.BENCH_ONLY ?? VARIANTS.join(','),
    },
    rounds: { type: 'string', default: process.env.BENCH_ROUNDS ?? '3' },
    json: { type: 'boolean', default: false },
    'json-out': { type: 'string' },
  },
});
const N = Number(values.events);
if (!Number.isInteger(N) || N < 1)
  throw new Error(`--events: expected a positive integer, got ${values.events}`);
const ROUNDS = Number(values.rounds);
if (!Number.isInteger(ROUNDS) || ROUNDS < 1) throw new Error(`--rounds: expected a positive integer`);
const ONLY = (values.only ?? '').split(',').map((s) => s.trim()) as VariantName[];
for (const v of ONLY) if (!VARIANTS.includes(v)) throw new Error(`--only: unknown variant ${v}`);

const ctx = benchContext();
const { redisUrl: REDIS_URL, run: RUN, prefix: PREFIX, redis, admin } = ctx;
/** Variants run so far: each gets its own schema and stream name. */
let variantCount = 0;
const BULLMQ_CONCURRENCY = 50;
const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
const MAIN = fileURLToPath(new URL('../src/cli/main.ts', import.meta.url));
const REFERENCE = fileURLToPath(new URL('./reference-worker.ts', import.meta.url));

// ---- shared fixtures ---------------------------------------------------------------------------------------

const ts = new Date().toISOString();
const envelopes: Envelope[] = Array.from({ length: N }, (_, i) => ({
  id: `${RUN}-${i}`,
  type: 'order.placed',
  v: 1,
  key: `customer-${i % 1000}`,
  ts,
  data: {
    orderId: `o-${i}`,
    amountMinor: 1000 + (i % 5000),
    currency: 'EUR',
    lines: [{ sku: 'sku-1', qty: 2 }],
  },
}));
const encoded = envelopes.map((e) => encodeEnvelope(e));
const paymentEvents = generatePaymentEvents({ count: N, seed: 20261201, prefix: `${RUN}-` });
const paymentsEncoded = paymentEvents.map((e) => encodeEnvelope(e));

const APPLY_FIXTURE = fileURLToPath(new URL('./payments-apply-pipeline.ts', import.meta.url));

const createSchema = (tag: string) => ctx.createSchema(tag);

async function countRows(schemaUrl: string, sql = 'SELECT count(*) AS n FROM event_log'): Promise<number> {
  const c = new pg.Client({ connectionString: schemaUrl });
  await c.connect();
  try {
    return Number((await c.query<{ n: string }>(sql)).rows[0]?.n);
  } finally {
    await c.end();
  }
}

/** Preload the stream with every event (pipelined XADD) and create the group at its beginning. */
async function preload(key: string, group: string, entries: readonly string[][] = encoded): Promise<void> {
  for (let i = 0; i < entries.length; i += 1000) {
    const p = redis.pipeline();
    for (const fields of entries.slice(i, i + 1000)) p.xadd(key, '*', ...fields);
    await p.exec();
  }
  await redis.xgroup('CREATE', key, group, '0', 'MKSTREAM');
}

const INSERT_ONE = `
INSERT INTO event_log (event_id, stream, entry_id, type, v, key, occurred_at, payload)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (stream, event_id) DO NOTHING`;

function insertParams(e: Envelope, stream: string, entryId: string): unknown[] {
  return [e.id, stream, entryId, e.type, e.v, e.key, e.ts, JSON.stringify(e.data)];
}

function fieldsToEnvelope(fields: string[]): Envelope {
  const m = new Map<string, string>();
  for (let i = 0; i < fields.length; i += 2) m.set(fields[i] as string, fields[i + 1] as string);
  return {
    id: m.get('id') as string,
    type: m.get('type') as string,
    v: Number(m.get('v')),
    key: m.get('key') as string,
    ts: m.get('ts') as string,
    data: JSON.parse(m.get('data') as string),
  };
}

/** CPU so far of the Postgres backends with these application names (local server: /proc is readable). */
async function pgBackendsCpu(applicationNames: string[]): Promise<Map<number, number> | undefined> {
  const { rows } = await admin.query<{ pid: number }>(
    'SELECT pid FROM pg_stat_activity WHERE application_name = ANY($1)',
    [applicationNames],
  );
  const cpu = new Map<number, number>();
  try {
    for (const r of rows) cpu.set(r.pid, processCpuMicros(r.pid));
  } catch {
    return undefined; // Postgres is not on this machine (or /proc is hidden): no figure rather than a wrong one
  }
  return cpu;
}

async function pgCpuSince(
  before: Map<number, number> | undefined,
  names: string[],
): Promise<number | undefined> {
  const after = await pgBackendsCpu(names);
  if (!before || !after) return undefined;
  let sum = 0;
  for (const [pid, micros] of after) sum += micros - (before.get(pid) ?? 0);
  return sum;
}

/** The Redis server's CPU so far, when it runs on this machine (INFO's process_id readable in /proc). */
async function redisCpu(): Promise<number | undefined> {
  const info = (await redis.info('server')) as string;
  const pid = Number(/process_id:(\d+)/.exec(info)?.[1]);
  try {
    return processCpuMicros(pid);
  } catch {
    return undefined;
  }
}

function cpuMicrosSince(start: NodeJS.CpuUsage): number {
  const d = process.cpuUsage(start);
  return d.user + d.system;
}

// ---- (a) naive ---------------------------------------------------------------------------------------------

async function naive(): Promise<Measured> {
  const url = await createSchema('naive');
  const stream = `naive_${RUN}`;
  const key = streamKeys(PREFIX, stream).stream;
  const group = 'bench';
  await preload(key, group);
  const appName = `bench-naive-${RUN}`;
  const db = new pg.Client({ connectionString: url, application_name: appName });
  await db.connect();
  try {
    const pgCpu = await pgBackendsCpu([appName]);
    const cpu = process.cpuUsage();
    const started = performance.now();
    let done = 0;
    while (done < N) {
      const reply = (await redis.xreadgroup(
        'GROUP',
        group,
        'naive',
        'COUNT',
        100,
        'BLOCK',
        1000,
        'STREAMS',
        key,
        '>',
      )) as Array<[string, Array<[string, string[]]>]> | null;
      for (const [, entries] of reply ?? []) {
        for (const [id, fields] of entries) {
          await db.query(INSERT_ONE, insertParams(fieldsToEnvelope(fields), stream, id));
          await redis.xack(key, group, id);
          done += 1;
        }
      }
    }
    const seconds = (performance.now() - started) / 1000;
    const cpuMicros = cpuMicrosSince(cpu);
    const pgCpuMicros = await pgCpuSince(pgCpu, [appName]);
    await check(url, 'naive');
    return { variant: 'naive (INSERT + XACK per message)', events: N, seconds, cpuMicros, pgCpuMicros };
  } finally {
    await db.end();
  }
}

// ---- (b) BullMQ --------------------------------------------------------------------------------------------

async function bullmq(): Promise<Measured> {
  const url = await createSchema('bullmq');
  const queueName = `events_${RUN}`;
  const bullPrefix = `${PREFIX}_bull`;
  const connection = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
  const queue = new Queue(queueName, { connection, prefix: bullPrefix });
  const appName = `bench-bullmq-${RUN}`;
  const pool = new pg.Pool({ connectionString: url, max: 20, application_name: appName });
  let worker: BullWorker | undefined;
  try {
    for (let i = 0; i < envelopes.length; i += 1000) {
      await queue.addBulk(
        envelopes.slice(i, i + 1000).map((e) => ({
          name: e.type,
          data: e,
          opts: { removeOnComplete: true, removeOnFail: 1000 },
        })),
      );
    }
    let completed = 0;
    let failed = 0;
    let finish: () => void = () => {};
    const finished = new Promise<void>((resolve) => {
      finish = resolve;
    });
    const pgCpu = await pgBackendsCpu([appName]);
    const cpu = process.cpuUsage();
    const started = performance.now();
    worker = new BullWorker(
      queueName,
      async (job) => {
        await pool.query(INSERT_ONE, insertParams(job.data as Envelope, queueName, String(job.id)));
      },
      { connection, prefix: bullPrefix, concurrency: BULLMQ_CONCURRENCY },
    );
    worker.on('completed', () => {
      completed += 1;
      if (completed + failed === N) finish();
    });
    worker.on('failed', () => {
      failed += 1;
      if (completed + failed === N) finish();
    });
    await finished;
    const seconds = (performance.now() - started) / 1000;
    const cpuMicros = cpuMicrosSince(cpu);
    const pgCpuMicros = await pgCpuSince(pgCpu, [appName]);
    if (failed > 0) throw new Error(`bullmq: ${failed} jobs failed`);
    await check(url, 'bullmq');
    return {
      variant: `BullMQ (concurrency ${BULLMQ_CONCURRENCY})`,
      events: N,
      seconds,
      cpuMicros,
      pgCpuMicros,
    };
  } finally {
    await worker?.close();
    await queue.obliterate({ force: true }).catch(() => {});
    await queue.close();
    await pool.end();
    connection.disconnect();
  }
}

// ---- (c) streamsink worker processes -----------------------------------------------------------------------

interface GroupInfo {
  entriesRead: number;
  lag: number | null;
  pending: number;
}

async function groupInfo(key: string, group: string): Promise<GroupInfo | undefined> {
  const groups = (await redis.xinfo('GROUPS', key)) as Array<Array<string | number | null>>;
  for (const g of groups) {
    const m = new Map<string, string | number | null>();
    for (let i = 0; i < g.length; i += 2) m.set(String(g[i]), g[i + 1] ?? null);
    if (m.get('name') !== group) continue;
    const lag = m.get('lag');
    return {
      entriesRead: Number(m.get('entries-read') ?? 0),
      lag: lag === null || lag === undefined ? null : Number(lag),
      pending: Number(m.get('pending')),
    };
  }
  return undefined;
}

/** utime + stime of a process so far, in microseconds. */
function processCpuMicros(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(rest[11]) + Number(rest[12])) * 1_000_000) / CLK_TCK;
}

async function poll(
  what: string,
  check: () => Promise<boolean>,
  children: ChildProcess[],
  timeoutMs: number,
) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    const dead = children.find((c) => c.exitCode !== null || c.signalCode !== null);
    if (dead)
      throw new Error(`a worker exited (${dead.exitCode ?? dead.signalCode}) while waiting for ${what}`);
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

type ProcessKind = 'streamsink' | 'reference' | 'payments-apply' | 'payments-decide';

function spawnProcess(kind: ProcessKind, env: Record<string, string>, key: string): ChildProcess {
  if (kind === 'reference') {
    const args = [
      REFERENCE,
      REDIS_URL,
      env.DATABASE_URL,
      key,
      env.STREAMSINK_GROUP,
      env.STREAMSINK_CONSUMER,
      '2',
    ];
    return spawn(process.execPath, args as string[], { stdio: ['ignore', 'pipe', 'pipe'] });
  }
  const pipeline =
    kind === 'streamsink' ? 'event-log' : kind === 'payments-apply' ? APPLY_FIXTURE : 'payments';
  return spawn(process.execPath, [...WORKER_NODE_ARGS, MAIN, 'worker'], {
    // The payments tables are the pipeline's own migration (applied at start, before the clock).
    env: { ...process.env, ...env, STREAMSINK_PIPELINE: pipeline, STREAMSINK_AUTO_MIGRATE: 'true' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/** BENCH_WORKER_OUTPUT=/tmp/w writes each worker's stdout and stderr to /tmp/w.<pid> (with --trace-gc, say). */
const WORKER_OUTPUT = process.env.BENCH_WORKER_OUTPUT;
/**
 * The streamsink workers run with the container image's Node flags (as deployed: Dockerfile ENTRYPOINT), plus
 * BENCH_WORKER_NODE_ARGS, e.g. '--cpu-prof --cpu-prof-dir=/tmp/prof'.
 */
const WORKER_NODE_ARGS = [
  ...imageNodeFlags(),
  ...(process.env.BENCH_WORKER_NODE_ARGS ?? '').split(' ').filter(Boolean),
];

const isPayments = (kind: ProcessKind) => kind === 'payments-apply' || kind === 'payments-decide';

async function streamsink(processes: number, kind: ProcessKind = 'streamsink'): Promise<Measured> {
  variantCount += 1;
  const url = await createSchema(`ss${processes}_${variantCount}`);
  const stream = `ss${processes}_${variantCount}_${RUN}`;
  const key = streamKeys(PREFIX, stream).stream;
  const group = 'bench';
  await preload(key, group, isPayments(kind) ? paymentsEncoded : encoded);
  const outputs: string[] = [];
  const consumers = Array.from({ length: processes }, (_, i) => `bench-${RUN}-${i + 1}`);
  // The worker names its Postgres connections after its consumer (src/cli/worker.ts).
  const appNames = consumers.map((c) => `streamsink:${c}`);
  const children = Array.from({ length: processes }, (_, i) => {
    const env = {
      REDIS_URL,
      DATABASE_URL: url,
      STREAMSINK_KEY_PREFIX: PREFIX,
      STREAMSINK_STREAM: stream,
      STREAMSINK_GROUP: group,
      STREAMSINK_CONSUMER: consumers[i] as string,
      METRICS_PORT: '0',
      LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
    };
    const child = spawnProcess(kind, env, key);
    outputs[i] = '';
    const keep = (chunk: Buffer) => {
      outputs[i] = `${outputs[i]}${chunk.toString()}`.slice(-4000);
      if (WORKER_OUTPUT) appendFileSync(`${WORKER_OUTPUT}.${child.pid}`, chunk);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    return child;
  });
  try {
    // The clock starts once every process has joined and read (a consumer appears on its first XREADGROUP),
    // so start-up skew between processes is not counted; what was acknowledged before then is left out.
    let ackedBefore = 0;
    await poll(
      'every worker reading',
      async () => {
        const consumers = (await redis.xinfo('CONSUMERS', key, group).catch(() => [])) as unknown[];
        if (consumers.length < processes) return false;
        const g = await groupInfo(key, group);
        ackedBefore = g ? g.entriesRead - g.pending : 0;
        return true;
      },
      children,
      60_000,
    );
    const pgCpu = await pgBackendsCpu(appNames);
    const redisStart = await redisCpu();
    const started = performance.now();
    const cpuStart = children.map((c) => processCpuMicros(c.pid as number));
    await poll(
      'every entry acknowledged',
      async () => {
        const g = await groupInfo(key, group);
        return g !== undefined && g.entriesRead >= N && g.lag === 0 && g.pending === 0;
      },
      children,
      600_000,
    );
    const seconds = (performance.now() - started) / 1000;
    const cpuMicros = children.reduce(
      (sum, c, i) => sum + processCpuMicros(c.pid as number) - (cpuStart[i] ?? 0),
      0,
    );
    const pgCpuMicros = await pgCpuSince(pgCpu, appNames);
    const redisEnd = await redisCpu();
    const redisCpuMicros =
      redisStart === undefined || redisEnd === undefined ? undefined : redisEnd - redisStart;
    const plural = processes > 1 ? 'es' : '';
    if (isPayments(kind)) await checkPayments(url);
    else await check(url, `${kind}-${processes}`);
    const variant =
      kind === 'reference'
        ? `batched reference x${processes} process${plural} x2 in flight`
        : kind === 'payments-apply'
          ? `payments (SQL apply, before) x${processes} process${plural}`
          : kind === 'payments-decide'
            ? `payments (decide + proofs) x${processes} process${plural}`
            : `streamsink worker x${processes} process${plural}`;
    return { variant, events: N - ackedBefore, seconds, cpuMicros, pgCpuMicros, redisCpuMicros };
  } catch (error) {
    throw new Error(`${(error as Error).message}\nworker output:\n${outputs.join('\n---\n')}`);
  } finally {
    await Promise.all(children.map((c) => stopChild(c)));
  }
}

/** The payments and balances tables must be exactly what the independent model computes. */
async function checkPayments(url: string): Promise<void> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    const diff = diffState(expectedState(paymentEvents), await readState(c));
    if (!stateMatches(diff))
      throw new Error(`payments: tables differ from the model: ${JSON.stringify(diff).slice(0, 500)}`);
  } finally {
    await c.end();
  }
}

async function check(url: string, variant: string): Promise<void> {
  const rows = await countRows(url);
  if (rows !== N) throw new Error(`${variant}: event_log holds ${rows} rows, expected ${N}`);
}

// ---- run and report ----------------------------------------------------------------------------------------

const runners: Record<VariantName, () => Promise<Measured>> = {
  naive,
  bullmq,
  reference: () => streamsink(2, 'reference'),
  'streamsink-1': () => streamsink(1),
  'streamsink-2': () => streamsink(2),
  'payments-apply': () => streamsink(1, 'payments-apply'),
  'payments-decide': () => streamsink(1, 'payments-decide'),
};

// The baselines run once (each takes tens of seconds, which already averages out noise); the streamsink
// variants take a few seconds, so they run `rounds` times, interleaved, and the median is reported.
const results = new Map<VariantName, Measured>();
const perRound = new Map<VariantName, Measured[]>();
const byRate = (a: Measured, b: Measured) => a.events / a.seconds - b.events / b.seconds;
try {
  process.stderr.write(`worker benchmark: ${N} events per variant, run ${RUN}\n`);
  const rounds = perRound;
  const once = ONLY.filter((n) => !REPEATED.includes(n));
  const repeated = ONLY.filter((n) => REPEATED.includes(n));
  const plan = [...once, ...Array.from({ length: ROUNDS }, () => repeated).flat()];
  for (const name of plan) {
    process.stderr.write(`  ${name} ...`);
    const r = await runners[name]();
    rounds.set(name, [...(rounds.get(name) ?? []), r]);
    process.stderr.write(` ${(r.events / r.seconds).toFixed(0)} msgs/s\n`);
  }
  for (const [name, list] of rounds) {
    const sorted = [...list].sort(byRate);
    results.set(name, sorted[Math.floor((sorted.length - 1) / 2)] as Measured);
  }
} finally {
  await ctx.cleanup();
}

const report = throughputReport(N, ROUNDS, results, perRound);
process.stdout.write(
  values.json
    ? `${JSON.stringify(report.json)}\n`
    : `${report.text}streamsink workers: node ${WORKER_NODE_ARGS.join(' ')} src/cli/main.ts worker (the image's Node flags)\n`,
);
if (values['json-out']) writeFileSync(values['json-out'], `${JSON.stringify(report.json)}\n`);
