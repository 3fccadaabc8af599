import { afterAll, describe, expect, inject, it } from 'vitest';
import type { DeadLetterer } from '../../src/consumers/types.ts';
import { decodeDeadLetter } from '../../src/lib/dead-letter-entry.ts';
import { captureLogs } from '../helpers/capture-logs.ts';
import { generatePaymentEvents } from '../helpers/payments-model.ts';
import { waitFor } from '../helpers/wait.ts';
import { createWorkerBench, type WorkerBench } from '../helpers/worker-harness.ts';

/**
 * The consumer group vanishes between reading poison and dead-lettering it. The move did not happen, so it
 * must not be counted or logged as dead-lettered; the recreated group delivers the poison again, and it must
 * then reach the dead-letter stream exactly once.
 */
const POISON = 3;
const GOOD = 40;

/** Before the first dead-letter move only, run `sabotage` (which destroys the group). */
function sabotageFirstMove(sabotage: () => Promise<unknown>) {
  let done = false;
  return (real: DeadLetterer): DeadLetterer => ({
    async deadLetter(records) {
      if (!done) {
        done = true;
        await sabotage();
      }
      return await real.deadLetter(records);
    },
  });
}

describe('dead-lettering when the consumer group is gone', () => {
  // One bench per case: a recreated group reads its whole stream again, earlier cases' poison included.
  const benches: WorkerBench[] = [];
  afterAll(async () => {
    await Promise.all(benches.map((b) => b.cleanup()));
  });

  async function run(sabotage: (bench: WorkerBench) => Promise<unknown>, prefix: string) {
    const bench = await createWorkerBench(inject('redisUrl'), inject('databaseUrl'));
    benches.push(bench);
    const good = generatePaymentEvents({ count: GOOD, seed: 5, accounts: 4, prefix });
    await bench.publish(good.slice(0, GOOD / 2));
    const poisonIds: string[] = [];
    for (let i = 0; i < POISON; i++)
      poisonIds.push(
        (await bench.redis.xadd(
          bench.keys.stream,
          '*',
          'id',
          `${prefix}-poison-${i}`,
          'data',
          '{oops',
        )) as string,
      );
    await bench.publish(good.slice(GOOD / 2));
    const logs = captureLogs('warn');
    const w = await bench.startWorker({
      logger: logs.logger,
      wrapDeadLetterer: sabotageFirstMove(() => sabotage(bench)),
    });
    const dlqOf = async () =>
      (await bench.redis.xrange(bench.keys.deadLetter, '-', '+')).map(([, f]) => {
        const d = decodeDeadLetter(f);
        return d.ok ? d.value.meta.sourceId : 'undecodable';
      });
    await waitFor(
      async () => {
        const { rows } = await bench.db.query(
          `SELECT count(*)::int AS n FROM streamsink_inbox WHERE event_id LIKE '${prefix}%'`,
        );
        return rows[0].n === GOOD && (await dlqOf()).length >= POISON && (await bench.pendingCount()) === 0;
      },
      { timeoutMs: 30_000, describe: async () => `dlq ${JSON.stringify(await dlqOf())}` },
    );
    await w.close();
    const deadLettered =
      (await w.metrics.messages.get()).values.find((v) => v.labels.outcome === 'dead_lettered')?.value ?? 0;
    return { dlq: await dlqOf(), poisonIds, deadLettered, logs: logs.lines };
  }

  it('NOGROUP at the move: not counted, not logged as dead-lettered; moved once after the group is back', async () => {
    const r = await run((bench) => bench.redis.xgroup('DESTROY', bench.keys.stream, bench.group), 'gg1');
    expect([...r.dlq].sort()).toEqual([...r.poisonIds].sort());
    expect(r.deadLettered).toBe(POISON);
    const movedLogs = r.logs.filter((l) => l.msg === 'entry dead-lettered');
    expect(movedLogs.map((l) => l.entryId).sort()).toEqual([...r.poisonIds].sort());
    const gone = r.logs.filter((l) => String(l.msg).startsWith('consumer group gone'));
    expect(gone.reduce((n, l) => n + Number(l.count), 0)).toBeGreaterThanOrEqual(1);
  });

  // Whichever comes first, the move (which finds the entries not yet delivered by the new group) or the read
  // loop's re-read (after which the move succeeds and the re-read batch finds them gone), each poison entry
  // is counted and logged once: the one time it was really moved.
  it('group recreated behind the entries before the move: each counted and logged once, when moved', async () => {
    const r = await run(async (bench) => {
      await bench.redis.xgroup('DESTROY', bench.keys.stream, bench.group);
      await bench.redis.xgroup('CREATE', bench.keys.stream, bench.group, '0');
    }, 'gg2');
    expect([...r.dlq].sort()).toEqual([...r.poisonIds].sort());
    expect(r.deadLettered).toBe(POISON);
    const movedLogs = r.logs.filter((l) => l.msg === 'entry dead-lettered');
    expect(movedLogs.map((l) => l.entryId).sort()).toEqual([...r.poisonIds].sort());
  });
});
