import { readFileSync } from 'node:fs';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Envelope } from '../../src/lib/envelope.ts';
import { waitFor } from '../helpers/wait.ts';
import { createWorkerBench, type WorkerBench } from '../helpers/worker-harness.ts';

const MAX_IN_FLIGHT = 1000;
const BACKLOG = 200_000;

function rssBytes(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : Number.NaN;
}

/** Small, valid payment events, built on the fly so the test itself holds no 200,000-element array. */
function* backlog(n: number): Generator<Envelope<unknown>> {
  const ts = new Date(Date.UTC(2026, 10, 21, 9)).toISOString();
  for (let i = 0; i < n; i++)
    yield {
      id: `bp-e${i}`,
      type: 'payment.captured',
      v: 1,
      key: `bp-p${i}`,
      ts,
      data: {
        paymentId: `bp-p${i}`,
        accountId: `bp-a${i % 50}`,
        amountMinor: 100 + (i % 900),
        currency: 'EUR',
      },
    };
}

describe('backpressure', () => {
  let bench: WorkerBench;
  beforeAll(async () => {
    bench = await createWorkerBench(inject('redisUrl'), inject('databaseUrl'), {
      STREAMSINK_MAX_IN_FLIGHT: String(MAX_IN_FLIGHT),
      STREAMSINK_BATCH_SIZE: '250',
    });
  });
  afterAll(async () => {
    await bench?.cleanup();
  });

  it('with Postgres stalled by a lock, held entries never exceed the limit and memory stays flat over a 200,000 backlog', async () => {
    // The backlog, XADDed pipelined in chunks.
    let chunk: Envelope<unknown>[] = [];
    for (const e of backlog(BACKLOG)) {
      chunk.push(e);
      if (chunk.length === 5000) {
        await bench.publish(chunk, 5000);
        chunk = [];
      }
    }
    if (chunk.length > 0) await bench.publish(chunk, 5000);
    expect(await bench.redis.xlen(bench.keys.stream)).toBe(BACKLOG);

    const locker = new pg.Client({ connectionString: bench.schema.url });
    await locker.connect();
    await locker.query('BEGIN');
    await locker.query('LOCK TABLE account_balances IN EXCLUSIVE MODE');
    let locked = true;
    try {
      const child = bench.spawnWorker('bp-child', { STREAMSINK_SHUTDOWN_TIMEOUT_MS: '2000' });
      const inProcess = await bench.startWorker({ consumer: 'bp-inproc' });
      const pid = child.child.pid as number;

      // Both fill up to the limit and stop reading.
      await waitFor(
        async () =>
          (await bench.pendingOf('bp-child')) === MAX_IN_FLIGHT &&
          (await bench.pendingOf('bp-inproc')) === MAX_IN_FLIGHT,
        { timeoutMs: 20_000, describe: () => child.output().slice(-2000) },
      );
      const rssAtFull = rssBytes(pid);
      let maxRss = rssAtFull;
      let maxHeld = 0;
      let maxGauge = 0;
      const until = Date.now() + 4000; // a few lease renewals (claim idle 1 s) and read-loop turns
      while (Date.now() < until) {
        maxHeld = Math.max(maxHeld, await bench.pendingOf('bp-child'), await bench.pendingOf('bp-inproc'));
        maxGauge = Math.max(maxGauge, (await inProcess.metrics.inFlight.get()).values[0]?.value ?? 0);
        maxRss = Math.max(maxRss, rssBytes(pid));
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(maxHeld).toBe(MAX_IN_FLIGHT);
      expect(maxGauge).toBe(MAX_IN_FLIGHT);
      expect(inProcess.worker.health().inFlight).toBe(MAX_IN_FLIGHT);
      expect((await inProcess.metrics.backpressurePaused.get()).values[0]?.value).toBe(1);
      // The backlog stays in Redis: the group has delivered only what the two workers hold.
      const pending = await bench.pendingCount();
      expect(pending).toBe(2 * MAX_IN_FLIGHT);
      // 198,000 waiting entries would be ~100 MB in this process; a flat worker grows by a few MB at most.
      expect(maxRss - rssAtFull).toBeLessThan(30 * 1024 * 1024);
      // Leases were renewed: nobody claimed anything although the entries are held far past claim idle.
      expect((await inProcess.metrics.claimed.get()).values[0]?.value ?? 0).toBe(0);

      // Release Postgres: both resume by themselves.
      await locker.query('COMMIT');
      locked = false;
      await waitFor(
        async () => {
          const { rows } = await bench.db.query('SELECT count(*)::int AS n FROM streamsink_inbox');
          return rows[0].n > 10 * MAX_IN_FLIGHT;
        },
        { timeoutMs: 30_000 },
      );
      child.child.kill('SIGTERM');
      expect((await child.exited).code).toBe(0);
      await inProcess.close();
      // Nothing was dead-lettered or delivered twice along the way.
      expect(await bench.redis.xlen(bench.keys.deadLetter)).toBe(0);
      const { rows } = await bench.db.query(
        'SELECT count(*)::int AS n, count(DISTINCT event_id)::int AS d FROM streamsink_inbox',
      );
      expect(rows[0].n).toBe(rows[0].d);
    } finally {
      if (locked) await locker.query('ROLLBACK');
      await locker.end();
    }
  });
});
