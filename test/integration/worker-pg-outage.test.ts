import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { uniqueName } from '../helpers/names.ts';
import {
  diffState,
  expectedState,
  generatePaymentEvents,
  readState,
  stateMatches,
} from '../helpers/payments-model.ts';
import { waitFor } from '../helpers/wait.ts';
import { createWorkerBench, type InProcessWorker, type WorkerBench } from '../helpers/worker-harness.ts';

const OUTAGE_MS = 10_000;

/**
 * Postgres unavailable for 10 s in the middle of a run, on a database this test creates (so it can refuse
 * connections to it without touching anyone else's): nothing is dead-lettered, processing resumes by itself.
 */
describe('Postgres outage', () => {
  let admin: pg.Client;
  let dbName: string;
  let bench: WorkerBench;

  beforeAll(async () => {
    const databaseUrl = inject('databaseUrl');
    admin = new pg.Client({ connectionString: databaseUrl });
    await admin.connect();
    dbName = uniqueName('wk_outage').toLowerCase();
    await admin.query(`CREATE DATABASE "${dbName}"`);
    const url = new URL(databaseUrl);
    url.pathname = `/${dbName}`;
    // Max deliveries 2: any entry claimed or redelivered because of the outage would soon be dead-lettered.
    bench = await createWorkerBench(inject('redisUrl'), url.toString(), { STREAMSINK_MAX_DELIVERIES: '2' });
  });
  afterAll(async () => {
    await admin.query(`ALTER DATABASE "${dbName}" ALLOW_CONNECTIONS true`).catch(() => {});
    await bench?.cleanup();
    await admin.query(`DROP DATABASE IF EXISTS "${dbName}" WITH (FORCE)`);
    await admin.end();
  });

  async function processed(): Promise<number> {
    const { rows } = await bench.db.query('SELECT count(*)::int AS n FROM streamsink_inbox');
    return rows[0].n;
  }

  const outcome = async (w: InProcessWorker, name: string) =>
    (await w.metrics.messages.get()).values.find((v) => v.labels.outcome === name)?.value ?? 0;

  it('nothing is dead-lettered, reading pauses, processing resumes, final state exact', async () => {
    const events = generatePaymentEvents({ count: 14_000, seed: 51, accounts: 200, prefix: 'out' });
    await bench.publish(events.slice(0, 4000));
    const workers = [
      await bench.startWorker({ consumer: 'o1' }),
      await bench.startWorker({ consumer: 'o2' }),
    ];
    await waitFor(async () => (await processed()) === 4000, { timeoutMs: 30_000 });

    // Outage: refuse new connections and cut the existing ones.
    const startedAt = Date.now();
    await admin.query(`ALTER DATABASE "${dbName}" ALLOW_CONNECTIONS false`);
    await admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1', [dbName]);
    await bench.publish(events.slice(4000));
    await waitFor(() => workers.every((w) => w.worker.health().sinkFailing), { timeoutMs: OUTAGE_MS });
    // While it lasts: reading is paused and nothing is dead-lettered.
    await waitFor(() => Date.now() - startedAt >= OUTAGE_MS, {
      timeoutMs: OUTAGE_MS + 1000,
      intervalMs: 200,
    });
    for (const w of workers) {
      expect(w.worker.health().sinkFailing).toBe(true);
      expect((await w.metrics.backpressurePaused.get()).values[0]?.value).toBe(1);
    }
    expect(await bench.redis.xlen(bench.keys.deadLetter)).toBe(0);
    await admin.query(`ALTER DATABASE "${dbName}" ALLOW_CONNECTIONS true`);

    await waitFor(async () => (await processed()) === events.length && (await bench.pendingCount()) === 0, {
      timeoutMs: 40_000,
      describe: async () => `pending ${await bench.pendingCount()}`,
    });
    for (const w of workers) await w.close();

    expect(await bench.redis.xlen(bench.keys.deadLetter)).toBe(0);
    let retried = 0;
    for (const w of workers) {
      expect(await outcome(w, 'dead_lettered')).toBe(0);
      expect(w.worker.health().sinkFailing).toBe(false);
      retried += await outcome(w, 'retried');
    }
    expect(retried).toBeGreaterThan(0); // the outage was really felt by the batches
    // The Postgres circuit opened (retries stopped hitting a database that was down), tried, and closed.
    for (const w of workers) {
      const transitions = async (to: string) =>
        (await w.metrics.circuitTransitions.get()).values.find(
          (v) => v.labels.dependency === 'postgres' && v.labels.to === to,
        )?.value ?? 0;
      expect(await transitions('open')).toBeGreaterThan(0);
      expect(await transitions('half_open')).toBeGreaterThan(0);
      expect(await transitions('closed')).toBeGreaterThan(0);
      expect(
        (await w.metrics.circuitState.get()).values.find((v) => v.labels.dependency === 'postgres')?.value,
      ).toBe(0);
    }
    const diff = diffState(expectedState(events), await readState(bench.db, 'out'));
    expect(diff.examples).toEqual([]);
    expect(stateMatches(diff)).toBe(true);
  });
});
