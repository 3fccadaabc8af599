import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import {
  diffState,
  expectedState,
  generatePaymentEvents,
  readState,
  stateMatches,
} from '../helpers/payments-model.ts';
import { waitFor } from '../helpers/wait.ts';
import { createWorkerBench, type WorkerBench } from '../helpers/worker-harness.ts';

const SHUTDOWN_TIMEOUT_MS = 10_000;

async function processedCount(bench: WorkerBench): Promise<number> {
  const { rows } = await bench.db.query('SELECT count(*)::int AS n FROM streamsink_inbox');
  return rows[0].n;
}

describe('graceful shutdown', () => {
  let bench: WorkerBench;
  beforeAll(async () => {
    bench = await createWorkerBench(inject('redisUrl'), inject('databaseUrl'));
  });
  afterAll(async () => {
    await bench?.cleanup();
  });

  it('SIGTERM under load: exit 0 within the timeout, everything committed was acknowledged, nothing lost', async () => {
    const events = generatePaymentEvents({ count: 40_000, seed: 21, accounts: 400, prefix: 'term' });
    await bench.publish(events);
    const child = bench.spawnWorker('terminated', {
      STREAMSINK_SHUTDOWN_TIMEOUT_MS: String(SHUTDOWN_TIMEOUT_MS),
      STREAMSINK_BATCH_SIZE: '200',
      STREAMSINK_MAX_IN_FLIGHT: '1000',
      LOG_LEVEL: 'info',
    });
    await waitFor(async () => (await processedCount(bench)) >= 3000, {
      timeoutMs: 30_000,
      describe: () => child.output().slice(-2000),
    });
    child.child.kill('SIGTERM');
    let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
    void child.exited.then((e) => {
      exit = e;
    });
    await waitFor(() => exit, {
      timeoutMs: SHUTDOWN_TIMEOUT_MS + 5000,
      describe: () => child.output().slice(-2000),
    });
    expect(exit).toEqual({ code: 0, signal: null });
    expect(child.output()).toContain('worker stopped');

    const committedByChild = await processedCount(bench);
    expect(committedByChild).toBeLessThan(events.length); // it really was stopped under load
    // Drained: the stopped worker holds nothing pending.
    expect(await bench.pendingOf('terminated')).toBe(0);

    const next = await bench.startWorker({ consumer: 'after' });
    await waitFor(
      async () => (await processedCount(bench)) === events.length && (await bench.pendingCount()) === 0,
      { timeoutMs: 30_000 },
    );
    await next.close();
    const values = (await next.metrics.messages.get()).values;
    const count = (o: string) => values.find((v) => v.labels.outcome === o)?.value ?? 0;
    // Nothing the first worker committed came back: every commit of it was acknowledged before it exited.
    expect(count('duplicate')).toBe(0);
    expect(count('acked')).toBe(events.length - committedByChild);

    const diff = diffState(expectedState(events), await readState(bench.db, 'term'));
    expect(diff.examples).toEqual([]);
    expect(stateMatches(diff)).toBe(true);
  });
  it('SIGTERM while Postgres hangs: exit 0 soon after the timeout, the held entries stay pending and are not lost', async () => {
    const events = generatePaymentEvents({ count: 2000, seed: 22, accounts: 50, prefix: 'hang' });
    const locker = new pg.Client({ connectionString: bench.schema.url });
    await locker.connect();
    await locker.query('BEGIN');
    await locker.query('LOCK TABLE account_balances IN EXCLUSIVE MODE');
    let locked = true;
    try {
      await bench.publish(events);
      const child = bench.spawnWorker('hung', { STREAMSINK_SHUTDOWN_TIMEOUT_MS: '1500' });
      await waitFor(async () => (await bench.pendingOf('hung')) > 0, { timeoutMs: 20_000 });
      child.child.kill('SIGTERM');
      let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
      void child.exited.then((e) => {
        exit = e;
      });
      // Shutdown budget 1.5 s, then closing clients is bounded (3 s) and the CLI stops waiting (2 s).
      await waitFor(() => exit, { timeoutMs: 10_000, describe: () => child.output().slice(-2000) });
      expect(exit).toEqual({ code: 0, signal: null });
      expect(child.output()).toContain('shutdown timeout: unfinished entries stay pending');
      expect(await bench.pendingOf('hung')).toBeGreaterThan(0);
    } finally {
      if (locked) await locker.query('COMMIT');
      locked = false;
      await locker.end();
    }
    const next = await bench.startWorker({ consumer: 'after-hang' });
    await waitFor(async () => (await bench.pendingCount()) === 0, { timeoutMs: 30_000 });
    await next.close();
    const diff = diffState(expectedState(events), await readState(bench.db, 'hang'));
    expect(diff.examples).toEqual([]);
    expect(stateMatches(diff)).toBe(true);
  });
  it('flags name the stream, group, consumer, pipeline and start id, over the environment', async () => {
    const events = generatePaymentEvents({ count: 300, seed: 23, accounts: 10, prefix: 'flags' });
    const ids = await bench.publish(events);
    const group = `${bench.group}-flags`;
    // The environment names another stream and group: the flags must win. Starting at the 101st entry, the
    // group skips the first 100.
    const child = bench.spawnWorker(
      'ignored-by-flag',
      { STREAMSINK_STREAM: 'not-this-one', STREAMSINK_GROUP: 'nor-this' },
      [
        '--stream',
        bench.streamName,
        '--group',
        group,
        '--consumer',
        'flagged',
        '--pipeline',
        'payments',
        '--start-id',
        ids[99] as string,
      ],
    );
    await waitFor(
      async () => {
        const summary = (await bench.redis.xinfo('GROUPS', bench.keys.stream)) as unknown[][];
        const g = summary.map((f) => Object.fromEntries(chunk(f))).find((f) => f.name === group);
        return g !== undefined && Number(g.pending) === 0 && g['last-delivered-id'] === ids[ids.length - 1];
      },
      { timeoutMs: 20_000, describe: () => child.output().slice(-2000) },
    );
    const consumers = (await bench.redis.xinfo('CONSUMERS', bench.keys.stream, group)) as unknown[][];
    expect(consumers.map((c) => c[1])).toEqual(['flagged']);
    child.child.kill('SIGTERM');
    expect((await child.exited).code).toBe(0);
    expect(await bench.redis.exists('streamsink:{not-this-one}')).toBe(0);
    const { rows } = await bench.db.query('SELECT event_id FROM streamsink_inbox WHERE event_id = ANY($1)', [
      events.map((e) => e.id),
    ]);
    const done = new Set(rows.map((r) => r.event_id));
    expect(events.slice(0, 100).filter((e) => done.has(e.id))).toEqual([]);
    expect(events.slice(100).every((e) => done.has(e.id))).toBe(true);
  });
});

function chunk(flat: unknown[]): Array<[string, unknown]> {
  const out: Array<[string, unknown]> = [];
  for (let i = 0; i + 1 < flat.length; i += 2) out.push([String(flat[i]), flat[i + 1]]);
  return out;
}
