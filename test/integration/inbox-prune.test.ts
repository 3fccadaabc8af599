import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { runCli } from '../helpers/cli-run.ts';
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
 * Inbox retention keeps the guarantee (issue 13): after a trim, `inbox prune` deletes the rows whose events
 * can no longer arrive, keeps the rows of events still in the dead-letter stream or still in the stream, and a
 * redrive of an older dead letter (a copy of an event applied long ago) still applies exactly once.
 */

const WITH_JPY = { STREAMSINK_PAYMENTS_CURRENCIES: 'EUR,USD,GBP,JPY' };

async function inboxIds(bench: WorkerBench): Promise<string[]> {
  const { rows } = await bench.db.query<{ event_id: string }>(
    'SELECT event_id FROM streamsink_inbox ORDER BY event_id',
  );
  return rows.map((r) => r.event_id);
}

describe('inbox prune', () => {
  let bench: WorkerBench;
  beforeAll(async () => {
    // A short dedupe window, so rows become old enough to prune within the test.
    bench = await createWorkerBench(inject('redisUrl'), inject('databaseUrl'), {
      STREAMSINK_DEDUPE_WINDOW_MS: '1000',
    });
  });
  afterAll(async () => {
    await bench.cleanup();
  });

  const prune = (...args: string[]) =>
    runCli(
      ['inbox', 'prune', '--stream', bench.streamName, '--older-than', '1s', '--json', ...args],
      bench.env,
    );

  it('prunes after a trim; rows of dead-lettered or still-streamed events stay; redrive applies exactly once', async () => {
    const good = generatePaymentEvents({ count: 300, seed: 141, accounts: 20, prefix: 'ipg' });
    const jpyApplied = generatePaymentEvents({
      count: 60,
      seed: 142,
      accounts: 10,
      currencies: ['JPY'],
      prefix: 'ipa',
    });
    const jpyLate = generatePaymentEvents({
      count: 40,
      seed: 143,
      accounts: 10,
      currencies: ['JPY'],
      prefix: 'ipl',
    });

    // 1. Applied while JPY was allowed.
    await bench.publish([...good, ...jpyApplied]);
    const lenient = await bench.startWorker({ consumer: 'lenient', env: WITH_JPY });
    await waitFor(
      async () =>
        (await inboxIds(bench)).length === good.length + jpyApplied.length &&
        (await bench.pendingCount()) === 0,
      { timeoutMs: 60_000, intervalMs: 100 },
    );
    await lenient.close();

    // 2. Then JPY refused: copies of the applied JPY events (a producer resend) and new JPY events are
    //    dead-lettered before the inbox sees them.
    await bench.publish([...jpyApplied, ...jpyLate]);
    const strict = await bench.startWorker({ consumer: 'strict' });
    await waitFor(
      async () =>
        (await bench.redis.xlen(bench.keys.deadLetter)) === jpyApplied.length + jpyLate.length &&
        (await bench.pendingCount()) === 0,
      { timeoutMs: 60_000, intervalMs: 100 },
    );
    await strict.close();

    // 3. Everything is acknowledged: trim removes it all.
    const total = good.length + 2 * jpyApplied.length + jpyLate.length;
    const trimmed = await runCli(
      ['stream', 'trim', '--stream', bench.streamName, '--keep', '0s', '--json'],
      bench.env,
    );
    expect(JSON.parse(trimmed.stdout)).toMatchObject({ removed: total });
    // A copy of one applied event arrives again (not yet read by any group).
    const resent = good[0] as PaymentEventInput;
    await bench.publish([resent]);

    // 4. Rows become older than --older-than (Postgres' clock).
    await waitFor(
      async () => {
        const { rows } = await bench.db.query(
          `SELECT bool_and(processed_at < now() - interval '1.5 seconds') AS old FROM streamsink_inbox`,
        );
        return rows[0].old === true;
      },
      { timeoutMs: 10_000, intervalMs: 100 },
    );

    const before = await inboxIds(bench);
    const dry = await prune('--dry-run');
    expect(dry.code, dry.stderr).toBe(0);
    expect(JSON.parse(dry.stdout)).toMatchObject({
      status: 'ok',
      dryRun: true,
      pruned: good.length - 1,
      kept: { entry_in_stream: 0, id_in_stream: 1, dead_lettered: jpyApplied.length },
    });
    expect(await inboxIds(bench)).toEqual(before);

    const done = await prune();
    expect(done.code, done.stderr).toBe(0);
    expect(JSON.parse(done.stdout)).toMatchObject({
      status: 'ok',
      dryRun: false,
      examined: good.length + jpyApplied.length,
      pruned: good.length - 1,
      kept: { entry_in_stream: 0, id_in_stream: 1, dead_lettered: jpyApplied.length },
      skippedPipelines: [],
    });
    expect(await inboxIds(bench)).toEqual([resent.id, ...jpyApplied.map((e) => e.id)].sort());

    // 5. JPY allowed again; the dead letters are redriven: the copies are duplicates, the late ones apply.
    const fixed = await bench.startWorker({ consumer: 'fixed', env: WITH_JPY });
    const redrive = await runCli(
      ['dlq', 'redrive', '--stream', bench.streamName, '--all', '--json'],
      bench.env,
    );
    expect(redrive.code, redrive.stderr).toBe(0);
    expect(JSON.parse(redrive.stdout)).toMatchObject({
      redriven: jpyApplied.length + jpyLate.length,
      failed: 0,
    });
    await waitFor(
      async () =>
        (await inboxIds(bench)).length === 1 + jpyApplied.length + jpyLate.length &&
        (await bench.pendingCount()) === 0 &&
        (await bench.redis.xlen(bench.keys.deadLetter)) === 0,
      { timeoutMs: 60_000, intervalMs: 100 },
    );
    await fixed.close();
    const diff = diffState(
      expectedState([...good, ...jpyApplied, ...jpyLate]),
      await readState(bench.db, 'ip'),
    );
    expect(diff.examples).toEqual([]);
    expect(stateMatches(diff)).toBe(true);
  });

  it('skips a pipeline that also recorded events from another stream, prunes the others', async () => {
    await bench.db.query(
      `INSERT INTO streamsink_inbox (pipeline, event_id, content_hash, stream, entry_id, event_type, processed_at)
       VALUES ('multi', 'm1', NULL, $1, '1-0', 't', now() - interval '1 day'),
              ('multi', 'm2', NULL, 'elsewhere', '1-0', 't', now() - interval '1 day'),
              ('single', 's1', NULL, $1, '1-0', 't', now() - interval '1 day')`,
      [bench.streamName],
    );
    const r = await prune();
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({
      skippedPipelines: [{ pipeline: 'multi', otherStream: 'elsewhere' }],
    });
    const { rows } = await bench.db.query<{ event_id: string }>(
      `SELECT event_id FROM streamsink_inbox WHERE pipeline IN ('multi', 'single') ORDER BY event_id`,
    );
    expect(rows.map((row) => row.event_id)).toEqual(['m1', 'm2']);
  });

  it('refuses --older-than shorter than the dedupe window, and leaves a stream without groups alone', async () => {
    const short = await runCli(
      ['inbox', 'prune', '--stream', bench.streamName, '--older-than', '500ms'],
      bench.env,
    );
    expect(short.code).toBe(2);
    expect(short.stderr).toContain('shorter than the dedupe window');

    const lonely = `${bench.streamName}_nogroups`;
    const key = bench.keys.stream.replace(bench.streamName, lonely);
    await bench.redis.xadd(key, '*', 'id', 'x');
    try {
      const r = await runCli(
        ['inbox', 'prune', '--stream', lonely, '--older-than', '1s', '--json'],
        bench.env,
      );
      expect(r.code, r.stderr).toBe(0);
      expect(JSON.parse(r.stdout)).toMatchObject({ status: 'no_groups', pruned: 0 });
    } finally {
      await bench.redis.del(key);
    }
  });
});
