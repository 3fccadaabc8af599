import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import pg from 'pg';
import { migrate } from '../../src/lib/migrations.ts';
import { createPool } from '../../src/lib/pg.ts';
import { streamKeys } from '../../src/lib/redis/keys.ts';
import { createRng, randomInt } from '../helpers/payments-model.ts';
import { startOwnPostgres, startOwnRedis } from '../helpers/servers-own.ts';
import { startTcpProxy } from '../helpers/tcp-proxy.ts';
import { waitFor } from '../helpers/wait.ts';
import { checkRun, readProgress } from './check.ts';
import { createFaultChooser, injectFault } from './faults.ts';
import { CHAOS_HELP, parseChaosOptions } from './options.ts';
import { buildPlan } from './plan.ts';
import { startPublisher } from './publisher.ts';
import { formatReport } from './report.ts';
import { createWorkerPool } from './worker-pool.ts';

/**
 * The chaos soak (`npm run chaos`): its own Redis (AOF, appendfsync always) and Postgres on free loopback
 * ports, a TCP proxy between the workers and Redis, N worker processes, a producer publishing a known plan
 * while random faults are injected; then it waits for the group to drain and checks every invariant against
 * the plan. Exits 1 when any invariant fails.
 */
const STREAM = 'payments';
const GROUP = 'chaos';
const MAX_PAYLOAD_BYTES = 16_384;
const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

async function main(): Promise<number> {
  const options = parseChaosOptions(process.argv.slice(2), process.env);
  if (options === 'help') {
    process.stdout.write(CHAOS_HELP);
    return 0;
  }
  const t0 = Date.now();
  const log = (line: string) =>
    process.stdout.write(`[${((Date.now() - t0) / 1000).toFixed(1).padStart(6)} s] ${line}\n`);
  const logDir = mkdtempSync(path.join(os.tmpdir(), `streamsink-chaos-${options.seed}-`));
  log(
    `seed ${options.seed}, ${options.events} events, ${options.durationS} s of faults, ${options.workers} workers; logs in ${logDir}`,
  );

  const cleanups: Array<() => Promise<unknown>> = [];
  let passed = false;
  /** Worth a post-mortem even when the run passes (a SIGTERM that took most of the shutdown timeout). */
  let suspicious = false;
  try {
    const redisServer = await startOwnRedis(
      options.redisAof === 'off' ? {} : { aof: true, appendfsync: options.redisAof },
    );
    cleanups.push(() => redisServer.stop());
    const pgServer = await startOwnPostgres();
    cleanups.push(() => pgServer.stop());
    const proxy = await startTcpProxy({ targetPort: redisServer.port });
    cleanups.push(() => proxy.close());
    log(
      `redis 127.0.0.1:${redisServer.port} (AOF ${options.redisAof}) behind proxy :${proxy.port}; postgres 127.0.0.1:${pgServer.port}`,
    );

    const migratePool = createPool({ url: pgServer.url, poolSize: 1 });
    await migrate(migratePool);
    await migratePool.end();

    const redis = new Redis(redisServer.url, { maxRetriesPerRequest: null, retryStrategy: () => 100 });
    redis.on('error', () => {});
    cleanups.push(async () => redis.disconnect());
    const keys = streamKeys('streamsink', STREAM);
    const plan = buildPlan({ ...options, maxPayloadBytes: MAX_PAYLOAD_BYTES });
    log(
      `plan: ${plan.good.length} good, ${plan.againPlain + plan.againSdk} second copies, ${plan.poisonCount} poison`,
    );

    const pool = createWorkerPool({
      repoRoot,
      logDir,
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        REDIS_URL: `redis://127.0.0.1:${proxy.port}`,
        DATABASE_URL: pgServer.url,
        STREAMSINK_STREAM: STREAM,
        STREAMSINK_GROUP: GROUP,
        STREAMSINK_PIPELINE: 'payments',
        STREAMSINK_CLAIM_IDLE_MS: '2000',
        STREAMSINK_CONSUMER_IDLE_DELETE_MS: '15000',
        STREAMSINK_SHUTDOWN_TIMEOUT_MS: '10000',
        STREAMSINK_MAX_PAYLOAD_BYTES: String(MAX_PAYLOAD_BYTES),
        METRICS_PORT: '0',
        LOG_LEVEL: process.env.CHAOS_WORKER_LOG_LEVEL ?? 'info',
      },
    });
    cleanups.push(() => pool.stopAll(5000));
    for (let i = 0; i < options.workers; i++) pool.spawnWorker();

    const publisher = startPublisher({
      redis,
      keys,
      plan,
      spreadMs: options.durationS * 1000 * 0.9,
      log,
    });
    let publishError: unknown;
    publisher.done.catch((error) => {
      publishError = error;
    });

    // Once a second: peak RSS, redeliveries seen in the PEL, and a replacement for any worker that died
    // without being asked to (Kubernetes would restart it; the exit itself is already recorded as a failure).
    const redelivered = new Set<string>();
    let maxDeliveryCount = 0;
    let sampling = false;
    let stopping = false;
    const sampler = setInterval(async () => {
      pool.sampleRss();
      if (stopping) return;
      while (pool.live().length < options.workers) {
        const r = pool.spawnWorker();
        log(`a worker exited on its own; started ${r.consumer}`);
      }
      if (sampling) return;
      sampling = true;
      try {
        const rows = (await redis.xpending(keys.stream, GROUP, '-', '+', 20_000)) as Array<
          [string, string, number, number]
        >;
        for (const [id, , , count] of rows) {
          if (count > 1) redelivered.add(id);
          if (count > maxDeliveryCount) maxDeliveryCount = count;
        }
      } catch {
        // Redis is down: the next sample will do
      } finally {
        sampling = false;
      }
    }, 1000);
    cleanups.push(async () => clearInterval(sampler));

    const rng = createRng(options.seed ^ 0xfa17);
    const chooseFault = createFaultChooser(rng, options.skipFaults);
    const faults: Record<string, number> = {};
    const faultErrors: string[] = [];
    let orphanedEntries = 0;
    const faultsEnd = t0 + options.durationS * 1000;
    let lastFaultEnd = Date.now();
    // No fault before every worker has joined the group (it shows in XINFO CONSUMERS after its first read).
    await waitFor(
      async () => {
        const joined = ((await redis.xinfo('CONSUMERS', keys.stream, GROUP)) as string[][]).map((c) => c[1]);
        return pool.live().every((w) => joined.includes(w.consumer));
      },
      {
        timeoutMs: 60_000,
        intervalMs: 100,
        describe: () => `live workers: ${pool.live().map((w) => w.consumer)}`,
      },
    );
    while (Date.now() < faultsEnd && publishError === undefined) {
      await new Promise((r) => setTimeout(r, randomInt(rng, options.faultGapMs[0], options.faultGapMs[1])));
      const kind = chooseFault();
      if (!kind) break;
      try {
        const what = await injectFault(kind, {
          pool,
          redis: redisServer,
          postgres: pgServer,
          proxy,
          rng,
          withPublisherPaused: publisher.paused,
          inspect: redis,
          stream: keys.stream,
          group: GROUP,
          orphaned: (n) => {
            orphanedEntries += n;
          },
          log,
        });
        faults[kind] = (faults[kind] ?? 0) + 1;
        log(`fault ${kind}: ${what} (published ${(publisher.progress() * 100).toFixed(0)}%)`);
      } catch (error) {
        faultErrors.push(`${kind}: ${(error as Error).message}`);
        log(`fault ${kind} failed: ${(error as Error).message}`);
      }
      lastFaultEnd = Date.now();
    }
    log('faults over; waiting for the publisher');
    await publisher.done;
    const lastPublish = publisher.record.finishedAt ?? Date.now();

    // Drained: the group delivered everything, nothing is pending, every poison is dead-lettered and every
    // good event is in the inbox (or the timeout says what is missing).
    const db = new pg.Client({ connectionString: pgServer.url, application_name: 'chaos-checker' });
    await db.connect();
    cleanups.push(() => db.end());
    const drainDeadline = Date.now() + options.drainTimeoutS * 1000;
    let drainedAt = 0;
    let lastProgress = '';
    for (;;) {
      const progress = await readProgress(redis, keys, GROUP);
      const inbox = (await db.query('SELECT count(*)::int AS n FROM streamsink_inbox')).rows[0].n as number;
      lastProgress = `${JSON.stringify(progress)}, inbox ${inbox} of ${plan.good.length}`;
      if (
        progress.caughtUp &&
        progress.pending === 0 &&
        progress.deadLetterLength >= publisher.record.poisonEntries.size &&
        inbox >= plan.good.length
      ) {
        drainedAt = Date.now();
        break;
      }
      if (Date.now() > drainDeadline) {
        log(`not drained after ${options.drainTimeoutS} s: ${lastProgress}`);
        drainedAt = Date.now();
        break;
      }
      await new Promise((r) => setTimeout(r, 250));
    }
    log(`drained: ${lastProgress}`);
    stopping = true;
    await pool.stopAll(20_000);

    const check = await checkRun({
      redis,
      databaseUrl: pgServer.url,
      keys,
      group: GROUP,
      plan,
      record: publisher.record,
    });
    const unexpectedExits = pool.unexpectedExits();
    suspicious = pool.all().some((w) => (w.termToExitMs ?? 0) > 5000);
    passed = check.failures.length === 0 && unexpectedExits.length === 0 && faultErrors.length === 0;
    process.stdout.write(
      `${formatReport({
        options,
        plan,
        record: publisher.record,
        check,
        faults,
        faultErrors,
        workers: pool.all(),
        unexpectedExits,
        redeliveredObserved: redelivered.size,
        orphanedEntries,
        maxDeliveryCount,
        runSeconds: (Date.now() - t0) / 1000,
        drainAfterLastFaultS: (drainedAt - lastFaultEnd) / 1000,
        drainAfterLastPublishS: (drainedAt - lastPublish) / 1000,
        passed,
      })}\n`,
    );
    return passed ? 0 : 1;
  } finally {
    for (const cleanup of cleanups.reverse()) {
      try {
        await cleanup();
      } catch (error) {
        log(`cleanup failed: ${(error as Error).message}`);
      }
    }
    if (passed && !suspicious && !options.keep) rmSync(logDir, { recursive: true, force: true });
    else log(`worker logs kept in ${logDir}`);
  }
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`chaos: ${error instanceof Error ? error.stack : String(error)}\n`);
    process.exitCode = 1;
  },
);
