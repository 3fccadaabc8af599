import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { dlqStats } from '../../src/admin/dlq.ts';
import {
  diffState,
  expectedState,
  generatePaymentEvents,
  type PaymentEventInput,
  readState,
  stateMatches,
} from '../helpers/payments-model.ts';
import { waitFor } from '../helpers/wait.ts';
import { createWorkerBench, type WorkerBench } from '../helpers/worker-harness.ts';

/**
 * Redrive after the fix, end to end: events dead-lettered as `unsupported_currency` by the real worker, the
 * worker restarted with the currency allowed, `streamsink dlq redrive` (a child process) run once, twice,
 * and killed half-way then run again. Balances must include every redriven event exactly once.
 */

const MAIN = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));
const WITH_JPY = { STREAMSINK_PAYMENTS_CURRENCIES: 'EUR,USD,GBP,JPY' };

async function processedCount(bench: WorkerBench): Promise<number> {
  const { rows } = await bench.db.query('SELECT count(*)::int AS n FROM streamsink_inbox');
  return rows[0].n;
}

function redrive(bench: WorkerBench, ...args: string[]) {
  const child = spawn(process.execPath, [MAIN, 'dlq', 'redrive', '--stream', bench.streamName, ...args], {
    env: { PATH: process.env.PATH, REDIS_URL: bench.redisUrl, STREAMSINK_KEY_PREFIX: bench.prefix },
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => {
    stdout += d;
  });
  child.stderr.on('data', (d) => {
    stderr += d;
  });
  const done = new Promise<{
    code: number | null;
    signal: NodeJS.Signals | null;
    stdout: string;
    stderr: string;
  }>((resolve) => child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr })));
  return { child, done };
}

/** Publish, run a worker that refuses JPY until everything is either applied or dead-lettered, stop it. */
async function deadLetterJpy(bench: WorkerBench, good: PaymentEventInput[], jpy: PaymentEventInput[]) {
  const mixed: PaymentEventInput[] = [];
  const step = Math.max(1, Math.floor(good.length / Math.max(1, jpy.length)));
  for (let g = 0, j = 0; g < good.length || j < jpy.length; ) {
    for (let k = 0; k < step && g < good.length; k++) mixed.push(good[g++] as PaymentEventInput);
    if (j < jpy.length) mixed.push(jpy[j++] as PaymentEventInput);
  }
  await bench.publish(mixed);
  const worker = await bench.startWorker({ consumer: 'strict' });
  await waitFor(
    async () =>
      (await processedCount(bench)) === good.length &&
      (await bench.redis.xlen(bench.keys.deadLetter)) === jpy.length &&
      (await bench.pendingCount()) === 0,
    { timeoutMs: 90_000, intervalMs: 200 },
  );
  await worker.close();
  const stats = await dlqStats({ redis: bench.redis, stream: bench.streamName, keyPrefix: bench.prefix });
  expect(stats.byReason).toEqual({ unsupported_currency: jpy.length });
}

async function expectExact(bench: WorkerBench, events: PaymentEventInput[], prefix: string) {
  const diff = diffState(expectedState(events), await readState(bench.db, prefix));
  expect(diff.examples).toEqual([]);
  expect(stateMatches(diff)).toBe(true);
}

/** Event ids of the stream entries after the first `skip`: what the redrives re-published. */
async function republishedIds(bench: WorkerBench, skip: number): Promise<string[]> {
  const all = (await bench.redis.xrange(bench.keys.stream, '-', '+')) as Array<[string, string[]]>;
  return all.slice(skip).map(([, f]) => f[f.indexOf('id') + 1] as string);
}

describe('redrive end to end', () => {
  const benches: WorkerBench[] = [];
  const newBench = async () => {
    const b = await createWorkerBench(inject('redisUrl'), inject('databaseUrl'));
    benches.push(b);
    return b;
  };
  afterAll(async () => {
    for (const b of benches) await b.cleanup();
  });
  let bench: WorkerBench;
  beforeAll(async () => {
    bench = await newBench();
  });

  it('after the fix, redrive applies the dead-lettered events exactly once; a second redrive changes nothing', async () => {
    const good = generatePaymentEvents({ count: 2000, seed: 21, accounts: 50, prefix: 'rdg' });
    const jpy = generatePaymentEvents({
      count: 300,
      seed: 22,
      accounts: 20,
      currencies: ['JPY'],
      prefix: 'rdj',
    });
    await deadLetterJpy(bench, good, jpy);
    await expectExact(bench, good, 'rd');
    const published = await bench.redis.xlen(bench.keys.stream);

    const worker = await bench.startWorker({ consumer: 'fixed', env: WITH_JPY });
    const first = await redrive(bench, '--reason', 'unsupported_currency', '--json').done;
    expect(first.code, first.stderr).toBe(0);
    expect(JSON.parse(first.stdout)).toMatchObject({ selected: 300, redriven: 300, skipped: 0, failed: 0 });
    await waitFor(
      async () =>
        (await processedCount(bench)) === good.length + jpy.length && (await bench.pendingCount()) === 0,
      { timeoutMs: 60_000, intervalMs: 200 },
    );
    await expectExact(bench, [...good, ...jpy], 'rd');
    expect(await bench.redis.xlen(bench.keys.deadLetter)).toBe(0);
    expect((await republishedIds(bench, published)).sort()).toEqual(jpy.map((e) => e.id).sort());

    const again = await redrive(bench, '--reason', 'unsupported_currency').done;
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toContain('redriven 0, skipped 0, failed 0 (selected 0)');
    expect(await bench.redis.xlen(bench.keys.stream)).toBe(published + jpy.length);
    await expectExact(bench, [...good, ...jpy], 'rd');
    await worker.close();
  });

  it('a redrive killed half-way and run again applies every event exactly once', async () => {
    const b = await newBench();
    const jpy = generatePaymentEvents({
      count: 20_000,
      seed: 23,
      accounts: 200,
      currencies: ['JPY'],
      prefix: 'rk',
    });
    await deadLetterJpy(b, [], jpy);
    const published = await b.redis.xlen(b.keys.stream);

    const worker = await b.startWorker({ consumer: 'fixed', env: WITH_JPY });
    const killed = redrive(b, '--all');
    // Kill it once it has moved some entries and well before it could finish.
    await waitFor(async () => (await b.redis.xlen(b.keys.deadLetter)) < jpy.length - 500, {
      timeoutMs: 30_000,
      intervalMs: 2,
    });
    killed.child.kill('SIGKILL');
    const stopped = await killed.done;
    expect(stopped.signal).toBe('SIGKILL');
    const left = await b.redis.xlen(b.keys.deadLetter);
    expect(left, 'the kill came too late to interrupt anything').toBeGreaterThan(0);
    expect(left).toBeLessThan(jpy.length);

    const rerun = await redrive(b, '--all', '--json').done;
    expect(rerun.code, rerun.stderr).toBe(0);
    expect(JSON.parse(rerun.stdout)).toMatchObject({ selected: left, redriven: left, failed: 0 });
    await waitFor(async () => (await processedCount(b)) === jpy.length && (await b.pendingCount()) === 0, {
      timeoutMs: 90_000,
      intervalMs: 250,
    });
    await worker.close();
    // Every event re-published exactly once (nothing twice, nothing lost), applied exactly once.
    const ids = await republishedIds(b, published);
    expect(ids).toHaveLength(jpy.length);
    expect(new Set(ids).size).toBe(jpy.length);
    expect(await b.redis.xlen(b.keys.deadLetter)).toBe(0);
    await expectExact(b, jpy, 'rk');
  });
});
