/**
 * Publish -> commit latency against rate, for the event-log pipeline (issue 16):
 *
 *   npx node bench/latency.ts [--max-rate R] [--drain-rate D] [--steps 0.1,0.25,0.5,0.75,0.9] [--seconds 6]
 *                             [--workers 1] [--svg bench/results/latency-curve.svg] [--json]
 *
 * One worker process (defaults) reads a fresh stream. Unless --max-rate is given, the maximum rate is measured
 * first: a burst of 60,000 events published as fast as possible, divided by the time until the last is acked.
 * That is the publish -> commit maximum of this machine, with the publisher and the worker sharing its cores,
 * and the steps are fractions of it. --drain-rate (what `npm run bench` passes: the rate at which step 1's
 * worker drained a preloaded backlog, no publisher running) adds one more step at half of that rate, so runs
 * that took their maximum from the drain (before 2026-12-02) can still be compared.
 * Then a paced publisher (pipelined XADD every 2 ms, then the doorbell as the SDK rings it, at each step's fraction of that maximum, for --seconds)
 * stamps each event with its send time in microseconds. The commit time is `clock_timestamp()` when the row
 * is written (a column added to this run's own event_log), which precedes COMMIT only by the rest of that
 * one-statement transaction. Percentiles come from Postgres (percentile_cont), also measured from the entry's
 * arrival in Redis (the time in its id), with the events over 50 ms and the 100 ms send windows holding them.
 * Lone events: 20 events, one every 100 ms, at an idle worker. Prints a table and writes the knee chart as SVG.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { parseArgs } from 'node:util';
import { type Envelope, encodeEnvelope } from '../src/lib/envelope.ts';
import { streamKeys } from '../src/lib/redis/keys.ts';
import { ackedCount, benchContext, sleep, spawnWorker, stopChild } from './lib/fixtures.ts';
import { type CurvePoint, latencyCurveSvg } from './lib/latency-chart.ts';

const { values } = parseArgs({
  options: {
    'max-rate': { type: 'string' },
    'drain-rate': { type: 'string' },
    steps: { type: 'string', default: '0.1,0.25,0.5,0.75,0.9' },
    seconds: { type: 'string', default: '6' },
    workers: { type: 'string', default: '1' },
    svg: { type: 'string', default: 'bench/results/latency-curve.svg' },
    json: { type: 'boolean', default: false },
  },
});
const STEPS = (values.steps ?? '').split(',').map(Number);
if (STEPS.some((f) => !(f > 0 && f <= 1.5)))
  throw new Error('--steps: fractions of the maximum rate, e.g. 0.1,0.5');
const SECONDS = Number(values.seconds);
const WORKERS = Number(values.workers);
const DRAIN_RATE = Number(values['drain-rate'] ?? 0);

const ctx = benchContext();
const url = await ctx.createSchema('latency');
const schema = new URL(url).searchParams.get('options')?.split('=')[1] as string;
await ctx.admin.query(
  `ALTER TABLE "${schema}".event_log ADD COLUMN applied_at timestamptz NOT NULL DEFAULT clock_timestamp()`,
);
const stream = `lat_${ctx.run}`;
const keys = streamKeys(ctx.prefix, stream);
const key = keys.stream;
const group = 'bench';
await ctx.redis.xgroup('CREATE', key, group, '$', 'MKSTREAM');
const workers = Array.from({ length: WORKERS }, (_, i) =>
  spawnWorker(ctx, {
    DATABASE_URL: url,
    STREAMSINK_STREAM: stream,
    STREAMSINK_GROUP: group,
    STREAMSINK_CONSUMER: `lat-${ctx.run}-${i}`,
    STREAMSINK_PIPELINE: 'event-log',
  }),
);

const nowMicros = () => Math.round((performance.timeOrigin + performance.now()) * 1000);
const ts = new Date().toISOString();
let published = 0;

function event(id: string): string[] {
  const e: Envelope = {
    id,
    type: 'order.placed',
    v: 1,
    key: `customer-${published % 1000}`,
    ts,
    data: {
      sentAtMicros: nowMicros(),
      orderId: id,
      amountMinor: 1234,
      currency: 'EUR',
      lines: [{ sku: 's', qty: 1 }],
    },
  };
  published += 1;
  return encodeEnvelope(e);
}

async function publish(ids: string[]): Promise<void> {
  const p = ctx.redis.pipeline();
  for (const id of ids) p.xadd(key, '*', ...event(id));
  // Ring the doorbell as the SDK's publish does (producer.ts), so an idle worker reads at once.
  p.lpush(keys.doorbell, '1').ltrim(keys.doorbell, 0, 0);
  await p.exec();
}

async function drained(timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while ((await ackedCount(ctx.redis, key, group)) < published) {
    const dead = workers.find((w) => w.child.exitCode !== null);
    if (dead) throw new Error(`a worker exited:\n${dead.output()}`);
    if (Date.now() > deadline) throw new Error('timed out waiting for the worker to catch up');
    await sleep(5);
  }
}

interface Step {
  label: string;
  target: number;
  events: number;
  rate: number;
  p50: number;
  p99: number;
  p999: number;
  max: number;
  /** The same percentiles from the entry's arrival in Redis (its id's time, whole ms) to the commit. */
  fromXadd: { p50: number; p99: number; p999: number };
  /** Events slower than 50 ms, and in how many 100 ms windows of send time they were published. */
  slow: number;
  slowWindows: number;
  /** 100 ms windows of send time that held any of the step's events. */
  windows: number;
  /** The slowest window: its start (ms after the step's first send), its events and their max latency. */
  worst?: { atMs: number; events: number; maxMs: number };
}

async function measure(label: string, idPrefix: string, target: number): Promise<Step> {
  // `lat` from the publisher's stamp; `arr` from the entry's arrival in Redis (the time in its id, in ms): the
  // same commit without the time the publisher itself held the event (its own GC pauses, measured at 20-30 ms
  // every ~300 ms at half rate: the bench process runs with V8's default young generation).
  const { rows } = await ctx.admin.query<{ n: string; p: number[]; a: number[]; max: number; span: number }>(
    `SELECT count(*) AS n,
       percentile_cont(ARRAY[0.5, 0.99, 0.999]) WITHIN GROUP (ORDER BY lat) AS p, max(lat) AS max,
       percentile_cont(ARRAY[0.5, 0.99, 0.999]) WITHIN GROUP (ORDER BY arr) AS a,
       extract(epoch FROM max(applied_at) - min(applied_at)) AS span
     FROM (SELECT applied_at,
             extract(epoch FROM applied_at) * 1000 - (payload->>'sentAtMicros')::float8 / 1000 AS lat,
             extract(epoch FROM applied_at) * 1000 - split_part(entry_id, '-', 1)::float8 AS arr
           FROM "${schema}".event_log WHERE event_id LIKE $1) AS t`,
    [`${idPrefix}%`],
  );
  const r = rows[0] as { n: string; p: number[]; a: number[]; max: number; span: number };
  const n = Number(r.n);
  const [p50, p99, p999] = r.p as [number, number, number];
  const [fromXaddP50, fromXaddP99, fromXaddP999] = r.a as [number, number, number];
  // Whether the tail is spread out (queueing) or a few stalls (GC, a checkpoint, the scheduler): slow events
  // grouped by the 100 ms window they were sent in.
  const windows = await ctx.admin.query<{ at_ms: number; events: string; slow: string; max: number }>(
    `SELECT (w - min(w) OVER ()) * 100 AS at_ms, count(*) AS events, count(*) FILTER (WHERE lat > 50) AS slow,
       max(lat) AS max
     FROM (SELECT floor((payload->>'sentAtMicros')::float8 / 100000) AS w,
             extract(epoch FROM applied_at) * 1000 - (payload->>'sentAtMicros')::float8 / 1000 AS lat
           FROM "${schema}".event_log WHERE event_id LIKE $1) AS t
     GROUP BY w ORDER BY max(lat) DESC`,
    [`${idPrefix}%`],
  );
  const slowWindows = windows.rows.filter((w) => Number(w.slow) > 0);
  const top = windows.rows[0];
  return {
    label,
    target,
    events: n,
    rate: r.span > 0 ? n / r.span : 0,
    p50,
    p99,
    p999,
    max: r.max,
    fromXadd: { p50: fromXaddP50, p99: fromXaddP99, p999: fromXaddP999 },
    slow: slowWindows.reduce((sum, w) => sum + Number(w.slow), 0),
    slowWindows: slowWindows.length,
    windows: windows.rows.length,
    ...(top ? { worst: { atMs: Number(top.at_ms), events: Number(top.events), maxMs: top.max } } : {}),
  };
}

async function paced(rate: number, seconds: number, idPrefix: string): Promise<void> {
  const started = performance.now();
  let sent = 0;
  const total = Math.round(rate * seconds);
  while (sent < total) {
    const due = Math.min(total, Math.floor((rate * (performance.now() - started)) / 1000));
    if (due > sent) {
      const ids = Array.from({ length: due - sent }, (_, i) => `${idPrefix}${sent + i}`);
      sent = due;
      await publish(ids);
    }
    await sleep(2);
  }
}

try {
  // Warm up (connections, statement plans), then measure the maximum unless given.
  await publish(Array.from({ length: 2000 }, (_, i) => `warm-${i}`));
  await drained();
  let maxRate = Number(values['max-rate'] ?? 0);
  if (!(maxRate > 0)) {
    const burst = 60_000;
    const started = performance.now();
    for (let i = 0; i < burst; i += 1000)
      await publish(Array.from({ length: 1000 }, (_, j) => `max-${i + j}`));
    await drained();
    maxRate = burst / ((performance.now() - started) / 1000);
  }
  const steps: Step[] = [];
  for (const [k, fraction] of STEPS.entries()) {
    const target = Math.round(maxRate * fraction);
    process.stderr.write(`  ${Math.round(fraction * 100)}% of max: ${target} events/s for ${SECONDS} s ...`);
    await paced(target, SECONDS, `s${k}-`);
    await drained();
    const step = await measure(`${Math.round(fraction * 100)}% of max`, `s${k}-`, target);
    steps.push(step);
    process.stderr.write(
      ` p50 ${step.p50.toFixed(1)} ms, p99 ${step.p99.toFixed(1)} ms (from arrival in Redis ${step.fromXadd.p99.toFixed(1)} ms)\n`,
    );
  }
  let halfDrain: Step | undefined;
  if (DRAIN_RATE > 0) {
    const target = Math.round(DRAIN_RATE / 2);
    process.stderr.write(`  50% of the drain rate: ${target} events/s for ${SECONDS} s ...`);
    await paced(target, SECONDS, 'd-');
    await drained();
    halfDrain = await measure('50% of drain rate', 'd-', target);
    process.stderr.write(` p50 ${halfDrain.p50.toFixed(1)} ms, p99 ${halfDrain.p99.toFixed(1)} ms\n`);
  }
  for (let i = 0; i < 20; i++) {
    await publish([`lone-${i}`]);
    await sleep(100);
  }
  await drained();
  const lone = await measure('lone events (1 per 100 ms)', 'lone-', 10);
  const half = steps.find((s) => Math.abs(s.target / maxRate - 0.5) < 0.01);

  const curve = halfDrain ? [...steps, halfDrain] : steps;
  const points: CurvePoint[] = curve.map((s) => ({ rate: s.rate, p50: s.p50, p99: s.p99, p999: s.p999 }));
  const svgPath = values.svg as string;
  mkdirSync(dirname(svgPath), { recursive: true });
  writeFileSync(
    svgPath,
    latencyCurveSvg(
      points,
      `event-log publish -> commit latency, ${WORKERS} worker(s), max ${Math.round(maxRate)}/s`,
    ),
  );
  if (values.json) {
    process.stdout.write(
      `${JSON.stringify({ maxRate, drainRate: DRAIN_RATE || undefined, workers: WORKERS, steps, halfDrain, lone, svg: svgPath })}\n`,
    );
  } else {
    const f = (v: number) => v.toFixed(1).padStart(8);
    const lines = [...curve, lone].map(
      (s) =>
        `${s.label.padEnd(28)}${String(s.target).padStart(9)}${String(Math.round(s.rate)).padStart(10)}` +
        `${String(s.events).padStart(9)}${f(s.p50)}${f(s.p99)}${f(s.p999)}${f(s.max)}` +
        `${String(s.slow).padStart(8)}${`${s.slowWindows}/${s.windows}`.padStart(9)}` +
        `${f(s.fromXadd.p50)}${f(s.fromXadd.p99)}${f(s.fromXadd.p999)}`,
    );
    process.stdout.write(
      `\npublish -> commit latency, event-log, ${WORKERS} worker(s); maximum ${Math.round(maxRate)} events/s ` +
        `${values['max-rate'] ? '(given)' : '(a 60,000-event burst, publisher and worker on the same cores)'}` +
        `${DRAIN_RATE > 0 ? `; drain rate ${Math.round(DRAIN_RATE)} events/s (step 1, no publisher)` : ''}\n` +
        `${'step'.padEnd(28)}${'target/s'.padStart(9)}${'commit/s'.padStart(10)}${'events'.padStart(9)}` +
        `${'p50 ms'.padStart(8)}${'p99 ms'.padStart(8)}${'p99.9'.padStart(8)}${'max ms'.padStart(8)}` +
        `${'>50 ms'.padStart(8)}${'windows'.padStart(9)}${'x p50'.padStart(8)}${'x p99'.padStart(8)}${'x p99.9'.padStart(8)}\n` +
        `${lines.join('\n')}\n` +
        (half
          ? `  p99 at half the maximum rate: ${half.p99.toFixed(1)} ms from the publisher's stamp, ` +
            `${half.fromXadd.p99.toFixed(1)} ms from the entry's arrival in Redis (target < 50 ms)\n`
          : '') +
        (halfDrain
          ? `  p99 at half the drain rate (${halfDrain.target}/s, ${(halfDrain.target / maxRate).toFixed(2)}x the maximum): ` +
            `${halfDrain.p99.toFixed(1)} ms, p99.9 ${halfDrain.p999.toFixed(1)} ms\n`
          : '') +
        "  x p50/p99/p99.9: from the entry's arrival in Redis (its id's time, whole ms) to the commit\n" +
        "  >50 ms: events slower than 50 ms; windows: how many of the step's 100 ms send windows held them\n" +
        `${curve
          .filter((s) => s.worst && s.worst.maxMs > 50)
          .map(
            (s) =>
              `  ${s.label}: slowest window at +${((s.worst?.atMs ?? 0) / 1000).toFixed(1)} s, ${s.worst?.events} events, max ${s.worst?.maxMs.toFixed(1)} ms\n`,
          )
          .join('')}` +
        `  lone event p50 ${lone.p50.toFixed(1)} ms, max ${lone.max.toFixed(1)} ms (target: a few ms)\n` +
        `  chart: ${svgPath}\n`,
    );
  }
} finally {
  await Promise.all(workers.map((w) => stopChild(w.child)));
  await ctx.cleanup();
}
