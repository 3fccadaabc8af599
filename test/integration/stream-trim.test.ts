import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { runCli } from '../helpers/cli-run.ts';
import {
  diffState,
  expectedState,
  generatePaymentEvents,
  readState,
  stateMatches,
} from '../helpers/payments-model.ts';
import { waitFor } from '../helpers/wait.ts';
import { createWorkerBench, type WorkerBench } from '../helpers/worker-harness.ts';

/**
 * Trimming never loses work (issue 13): a group that has read nothing pins the stream; once it is gone, trim
 * removes exactly what the remaining group acknowledged, keeps its pending and undelivered entries, and the
 * worker then finishes with every effect exactly once.
 */

async function inboxCount(bench: WorkerBench): Promise<number> {
  const { rows } = await bench.db.query('SELECT count(*)::int AS n FROM streamsink_inbox');
  return rows[0].n;
}

describe('stream trim', () => {
  let bench: WorkerBench;
  beforeAll(async () => {
    bench = await createWorkerBench(inject('redisUrl'), inject('databaseUrl'));
  });
  afterAll(async () => {
    await bench.cleanup();
  });

  const trim = (...args: string[]) =>
    runCli(['stream', 'trim', '--stream', bench.streamName, '--json', ...args], bench.env);

  it('an idle group pins the stream; without it, trim removes only what the other group acknowledged', async () => {
    const first = generatePaymentEvents({ count: 300, seed: 131, accounts: 20, prefix: 'tra' });
    const second = generatePaymentEvents({ count: 120, seed: 132, accounts: 20, prefix: 'trb' });
    await bench.publish(first);
    // A group that never reads, created before any work was done.
    await bench.redis.xgroup('CREATE', bench.keys.stream, 'idle', '0');
    const worker = await bench.startWorker({ consumer: 'w1' });
    await waitFor(
      async () => (await inboxCount(bench)) === first.length && (await bench.pendingCount()) === 0,
      { timeoutMs: 60_000, intervalMs: 100 },
    );
    await worker.close();

    // More work: 50 delivered to a consumer that then "crashes" (pending), 70 not delivered at all.
    const secondIds = await bench.publish(second);
    await bench.redis.xreadgroup(
      'GROUP',
      bench.group,
      'crashed',
      'COUNT',
      50,
      'STREAMS',
      bench.keys.stream,
      '>',
    );
    expect(await bench.pendingCount()).toBe(50);
    const total = first.length + second.length;

    const pinned = await trim('--keep', '0s');
    expect(pinned.code, pinned.stderr).toBe(0);
    const pinnedOut = JSON.parse(pinned.stdout);
    expect(pinnedOut).toMatchObject({ status: 'ok', removed: 0, pinnedBy: 'idle' });
    expect(pinnedOut.groups.find((g: { group: string }) => g.group === 'idle').neededAgeMs).toBeGreaterThan(
      0,
    );
    expect(await bench.redis.xlen(bench.keys.stream)).toBe(total);

    // The replay window keeps fresh entries even when every remaining group acknowledged them.
    await bench.redis.xgroup('DESTROY', bench.keys.stream, 'idle');
    const windowed = await trim('--keep', '1h');
    expect(JSON.parse(windowed.stdout)).toMatchObject({ status: 'ok', removed: 0 });
    expect(await bench.redis.xlen(bench.keys.stream)).toBe(total);

    const dry = await trim('--keep', '0s', '--dry-run');
    expect(JSON.parse(dry.stdout)).toMatchObject({ dryRun: true, removed: first.length, countCapped: false });
    expect(await bench.redis.xlen(bench.keys.stream)).toBe(total);

    const trimmed = await trim('--keep', '0s');
    expect(trimmed.code, trimmed.stderr).toBe(0);
    expect(JSON.parse(trimmed.stdout)).toMatchObject({
      status: 'ok',
      removed: first.length,
      threshold: secondIds[0],
      firstId: secondIds[0],
      pinnedBy: bench.group,
    });
    expect(await bench.redis.xlen(bench.keys.stream)).toBe(second.length);
    expect(await bench.pendingCount()).toBe(50);
    // Every pending entry is still readable (no dangling PEL reference).
    const pendingIds = (
      (await bench.redis.xpending(bench.keys.stream, bench.group, '-', '+', 100)) as Array<[string]>
    ).map((p) => p[0]);
    for (const id of pendingIds) expect(await bench.redis.xrange(bench.keys.stream, id, id)).toHaveLength(1);

    // A second trim finds nothing more to remove.
    expect(JSON.parse((await trim('--keep', '0s')).stdout)).toMatchObject({ removed: 0 });

    // The worker reclaims the crashed consumer's entries, reads the rest: exact effects.
    const finisher = await bench.startWorker({ consumer: 'w2' });
    await waitFor(async () => (await inboxCount(bench)) === total && (await bench.pendingCount()) === 0, {
      timeoutMs: 60_000,
      intervalMs: 100,
    });
    await finisher.close();
    const diff = diffState(expectedState([...first, ...second]), await readState(bench.db, 'tr'));
    expect(diff.examples).toEqual([]);
    expect(stateMatches(diff)).toBe(true);

    // Now everything is acknowledged: trim empties the stream.
    expect(JSON.parse((await trim('--keep', '0s')).stdout)).toMatchObject({ removed: second.length });
    expect(await bench.redis.xlen(bench.keys.stream)).toBe(0);
  });

  it('never trims a stream without groups, and says when the stream does not exist', async () => {
    const lonely = `${bench.streamName}_nogroups`;
    const key = bench.keys.stream.replace(bench.streamName, lonely);
    await bench.redis.xadd(key, '*', 'id', 'x');
    try {
      const r = await runCli(['stream', 'trim', '--stream', lonely, '--keep', '0s', '--json'], bench.env);
      expect(r.code).toBe(0);
      expect(JSON.parse(r.stdout)).toMatchObject({ status: 'no_groups', removed: 0 });
      expect(await bench.redis.xlen(key)).toBe(1);
    } finally {
      await bench.redis.del(key);
    }
    const missing = await runCli(['stream', 'trim', '--stream', `${lonely}_none`], bench.env);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('no stream');
  });

  it('a replay window longer than the stream has lived removes nothing, dry run or not', async () => {
    const key = bench.keys.stream.replace(bench.streamName, `${bench.streamName}_young`);
    const stream = `${bench.streamName}_young`;
    await bench.redis.xadd(key, '*', 'id', 'y');
    await bench.redis.xgroup('CREATE', key, 'g', '$');
    try {
      for (const extra of [['--dry-run'], []]) {
        const r = await runCli(
          ['stream', 'trim', '--stream', stream, '--keep', '100000d', '--json', ...extra],
          bench.env,
        );
        expect(r.code, r.stderr).toBe(0);
        expect(JSON.parse(r.stdout)).toMatchObject({ status: 'ok', removed: 0, threshold: '0-0' });
      }
      expect(await bench.redis.xlen(key)).toBe(1);
    } finally {
      await bench.redis.del(key);
    }
  });

  it('refuses a malformed --keep before touching Redis', async () => {
    const r = await runCli(['stream', 'trim', '--stream', bench.streamName, '--keep', '24'], bench.env);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--keep: expected a duration');
  });
});
