// `npm run demo`: streamsink end to end on one machine, with a live view. See DEMO_HELP (scripts/demo/options.ts)
// and docs/demo.md. The pieces: preflight (servers), children (the CLI's migrate and two workers), events (the
// traffic), stats and view (the live view); this file puts them together and stops them in order.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import pg from 'pg';
import { createPaymentsRegistry } from '../src/consumers/pipelines/payments/events.ts';
import { redactUrl } from '../src/lib/redact.ts';
import { streamKeys } from '../src/lib/redis/keys.ts';
import { createProducer } from '../src/producers/producer.ts';
import { type Child, runCliOnce, startCli, stopAll } from './demo/children.ts';
import { demoEvent } from './demo/events.ts';
import { DEMO_HELP, type DemoOptions, parseDemoArgs } from './demo/options.ts';
import {
  DEFAULT_DATABASE_URL,
  DEFAULT_REDIS_URL,
  findPostgres,
  hasComposeFile,
  probeRedis,
  unreachableHelp,
} from './demo/preflight.ts';
import { type DemoSnapshot, readSnapshot } from './demo/stats.ts';
import { appliedRate, nextSteps, redraw, renderLine, renderView } from './demo/view.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const WORKERS = 2;
/** How long the workers get to drain after SIGTERM (their own budget, STREAMSINK_SHUTDOWN_TIMEOUT_MS, is 25 s). */
const STOP_GRACE_MS = 30_000;
/** Signals this close after the first are the same Ctrl-C passed on by npm, not a second request. */
const SAME_SIGNAL_MS = 500;

async function main(argv: string[]): Promise<number> {
  let options: DemoOptions;
  try {
    options = parseDemoArgs(argv);
  } catch (error) {
    process.stderr.write(`streamsink demo: ${(error as Error).message}\n\n${DEMO_HELP}`);
    return 2;
  }
  if (options.help) {
    process.stdout.write(DEMO_HELP);
    return 0;
  }
  const env = process.env;
  const redisUrl = env.REDIS_URL || DEFAULT_REDIS_URL;
  const keyPrefix = env.STREAMSINK_KEY_PREFIX || 'streamsink';
  const out = (text: string) => process.stdout.write(text);

  out(`Checking Redis (${redactUrl(redisUrl)}) and Postgres...\n`);
  const [redisProbe, postgres] = await Promise.all([probeRedis(redisUrl), findPostgres(env)]);
  if (redisProbe.error || postgres.chosen === undefined) {
    process.stderr.write(
      unreachableHelp({
        redis: redisProbe,
        postgres: postgres.chosen === undefined ? postgres.tried : [],
        redisUrlSet: Boolean(env.REDIS_URL),
        databaseUrlSet: Boolean(env.DATABASE_URL),
        composeFile: hasComposeFile(ROOT),
      }),
    );
    return 1;
  }
  const databaseUrl = postgres.chosen;
  const runId = `${Date.now().toString(36)}${Math.floor(Math.random() * 1296).toString(36)}`;
  const logDir = mkdtempSync(path.join(tmpdir(), 'streamsink-demo-'));
  const childEnv: NodeJS.ProcessEnv = {
    ...env,
    REDIS_URL: redisUrl,
    DATABASE_URL: databaseUrl,
    STREAMSINK_PIPELINE: 'payments',
    STREAMSINK_STREAM: options.stream,
    STREAMSINK_GROUP: options.group,
    METRICS_PORT: '0',
    METRICS_HOST: '127.0.0.1',
    LOG_LEVEL: env.LOG_LEVEL || 'info',
    // The workers stop by themselves should the demo die without stopping them (src/cli/parent-watch.ts).
    npm_lifecycle_event: env.npm_lifecycle_event || 'demo',
  };

  out(`Migrating ${redactUrl(databaseUrl)} (streamsink's schema and the payments pipeline's tables)...\n`);
  const migrated = await runCliOnce(['migrate', '--pipeline', 'payments'], childEnv);
  if (migrated.code !== 0) {
    process.stderr.write(`streamsink demo: migrate failed (exit ${migrated.code}):\n${migrated.output}`);
    return 1;
  }

  const stop = new AbortController();
  let firstSignalAt = 0;
  const children: Child[] = [];
  const onSignal = (sig: NodeJS.Signals) => {
    if (!stop.signal.aborted) {
      firstSignalAt = Date.now();
      stop.abort(sig);
      return;
    }
    if (Date.now() - firstSignalAt < SAME_SIGNAL_MS) return;
    // Asked twice: do not wait for the drain. Entries the workers held stay pending and are reclaimed later.
    for (const c of children) c.process.kill('SIGKILL');
    process.stderr.write('\nstreamsink demo: stopped at once (workers killed; their entries stay pending)\n');
    process.exit(130);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  let workerDied: Child | undefined;
  for (let i = 1; i <= WORKERS; i++) {
    const name = `demo-worker-${i}`;
    const child = startCli(
      name,
      ['worker'],
      { ...childEnv, STREAMSINK_CONSUMER: name },
      path.join(logDir, `${name}.log`),
    );
    children.push(child);
    void child.exited.then(() => {
      if (stop.signal.aborted) return;
      workerDied = child;
      stop.abort('worker exited');
    });
  }
  out(`Started ${WORKERS} workers (logs in ${logDir}) and the demo producer, ${options.rate} events/s.\n\n`);

  const redis = new Redis(redisUrl, { maxRetriesPerRequest: 1 });
  redis.on('error', () => {});
  const db = new pg.Pool({ connectionString: databaseUrl, max: 2 });
  db.on('error', () => {});
  const keys = streamKeys(keyPrefix, options.stream);
  const producer = createProducer({ redis, keyPrefix, registry: createPaymentsRegistry() });
  // Dead letters of earlier runs stay in the dead-letter stream: the view counts this run's.
  const baseline = await readSnapshot({
    redis,
    db,
    keys,
    keyPrefix,
    group: options.group,
    runId,
    published: 0,
  });
  const startedAt = Date.now();
  let published = 0;
  let sent = 0;

  // The producer: every 100 ms, what the rate says is due. One tick at a time (a slow Redis delays, never piles up).
  let producing: Promise<void> = Promise.resolve();
  const produceTick = async () => {
    const due = Math.floor(((Date.now() - startedAt) / 1000) * options.rate) - sent;
    const inputs = [];
    for (let i = 0; i < due; i++) {
      const e = demoEvent(sent++, runId, new Date());
      if (e.kind === 'malformed') {
        await redis.xadd(keys.stream, '*', ...e.fields);
        published += 1;
      } else inputs.push(e.input);
    }
    if (inputs.length > 0)
      for (const r of await producer.publishBatch(options.stream, inputs))
        if (r.status === 'added') published += 1;
  };
  const producerTimer = setInterval(() => {
    producing = producing.then(produceTick).catch(() => {});
  }, 100);

  // The view: once a second.
  const interactive = Boolean(process.stdout.isTTY);
  const history: DemoSnapshot[] = [];
  let drawn = 0;
  const snapshot = async () => {
    const s = sinceBaseline(
      await readSnapshot({ redis, db, keys, keyPrefix, group: options.group, runId, published }),
      baseline,
    );
    history.push(s);
    while (history.length > 6) history.shift();
    return s;
  };
  const draw = (s: DemoSnapshot) => {
    const rate = appliedRate(history);
    if (!interactive) {
      out(`${renderLine(s, rate, s.atMs - startedAt)}\n`);
      return;
    }
    const lines = renderView(s, rate, {
      stream: options.stream,
      group: options.group,
      workers: children.map((c) => ({ name: c.name, pid: c.process.pid, metricsPort: c.metricsPort })),
      elapsedMs: s.atMs - startedAt,
      rate: options.rate,
    });
    out(`${redraw(drawn)}${lines.join('\n')}\n`);
    drawn = lines.length;
  };
  const viewTimer = setInterval(() => {
    snapshot().then(draw, () => {});
  }, 1000);
  const durationTimer =
    options.durationS === undefined
      ? undefined
      : setTimeout(() => stop.abort('duration'), options.durationS * 1000);

  await new Promise((resolve) => stop.signal.addEventListener('abort', resolve, { once: true }));
  clearTimeout(durationTimer);
  clearInterval(producerTimer);
  await producing;
  clearInterval(viewTimer);

  if (!workerDied) {
    out('\nStopping: the producer has stopped; letting the workers catch up (at most 5 s)...\n');
    const until = Date.now() + 5000;
    while (Date.now() < until && !workerDied) {
      const s = await snapshot().catch(() => undefined);
      if (s && s.lag === 0 && s.pending === 0) break;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  out('Stopping the workers (SIGTERM: each finishes and acknowledges its batches, then exits)...\n');
  const { killed } = await stopAll(children, STOP_GRACE_MS);
  const final = await snapshot().catch(() => undefined);
  await Promise.all([redis.quit().catch(() => {}), db.end().catch(() => {})]);
  process.off('SIGINT', onSignal);
  process.off('SIGTERM', onSignal);

  if (final) {
    if (interactive) drawn = 0;
    out(
      `\n${interactive ? renderView(final, appliedRate(history), viewContext(options, children, final, startedAt)).join('\n') : renderLine(final, appliedRate(history), final.atMs - startedAt)}\n`,
    );
  }
  for (const c of children) {
    const { code, signal } = await c.exited;
    out(`  ${c.name} exited ${signal ? `on ${signal}` : `with code ${code}`}\n`);
  }
  if (killed.length > 0) out(`  (killed after ${STOP_GRACE_MS / 1000} s: ${killed.join(', ')})\n`);
  if (workerDied) {
    process.stderr.write(`\nstreamsink demo: ${workerDied.name} exited unexpectedly; the end of its log:\n`);
    process.stderr.write(`${tail(workerDied.logPath, 20)}\n`);
    return 1;
  }
  out(
    nextSteps({
      stream: options.stream,
      group: options.group,
      envNote: envNote(redisUrl, databaseUrl, keyPrefix),
    }),
  );
  return killed.length > 0 ? 1 : 0;
}

/** Dead letters counted from the demo's start (the other figures are this run's already). */
function sinceBaseline(s: DemoSnapshot, base: DemoSnapshot): DemoSnapshot {
  const byReason: Record<string, number> = {};
  for (const [reason, n] of Object.entries(s.deadLettersByReason)) {
    const d = n - (base.deadLettersByReason[reason] ?? 0);
    if (d > 0) byReason[reason] = d;
  }
  return { ...s, deadLetters: Math.max(0, s.deadLetters - base.deadLetters), deadLettersByReason: byReason };
}

function viewContext(options: DemoOptions, children: Child[], s: DemoSnapshot, startedAt: number) {
  return {
    stopped: true,
    stream: options.stream,
    group: options.group,
    workers: children.map((c) => ({ name: c.name, pid: c.process.pid, metricsPort: c.metricsPort })),
    elapsedMs: s.atMs - startedAt,
    rate: options.rate,
  };
}

/** The settings the next commands need when they are not the defaults (secrets masked). */
function envNote(redisUrl: string, databaseUrl: string, keyPrefix: string): string | undefined {
  const parts = [
    redisUrl === DEFAULT_REDIS_URL ? '' : `REDIS_URL=${redactUrl(redisUrl)}`,
    databaseUrl === DEFAULT_DATABASE_URL ? '' : `DATABASE_URL=${redactUrl(databaseUrl)}`,
    keyPrefix === 'streamsink' ? '' : `STREAMSINK_KEY_PREFIX=${keyPrefix}`,
  ].filter(Boolean);
  return parts.length === 0 ? undefined : `run them with ${parts.join(' ')}, as the demo did`;
}

function tail(file: string, lines: number): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(
      `streamsink demo: unexpected error: ${error instanceof Error ? error.stack : String(error)}\n`,
    );
    process.exitCode = 1;
  },
);
