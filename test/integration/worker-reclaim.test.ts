import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createStreamClient } from '../../src/consumers/stream-client.ts';
import { captureLogs } from '../helpers/capture-logs.ts';
import { generatePaymentEvents } from '../helpers/payments-model.ts';
import { waitFor } from '../helpers/wait.ts';
import { createWorkerBench, type InProcessWorker, type WorkerBench } from '../helpers/worker-harness.ts';

const counter = async (c: { get(): Promise<{ values: Array<{ value: number }> }> }) =>
  (await c.get()).values.reduce((a, v) => a + v.value, 0);
const outcome = async (w: InProcessWorker, name: string) =>
  (await w.metrics.messages.get()).values.find((v) => v.labels.outcome === name)?.value ?? 0;

async function processedIds(bench: WorkerBench): Promise<Set<string>> {
  const { rows } = await bench.db.query('SELECT event_id FROM streamsink_inbox');
  return new Set(rows.map((r) => r.event_id as string));
}

function dlqReasons(entries: Array<[string, string[]]>): string[] {
  return entries.map(([, f]) => f[f.indexOf('dlq.reason') + 1] as string);
}

/** Each test gets its own stream and group: reclaiming is about what other consumers left behind. */
describe('reclaim', () => {
  const benches: WorkerBench[] = [];
  const bench = async (env: Record<string, string> = {}) => {
    const b = await createWorkerBench(inject('redisUrl'), inject('databaseUrl'), env);
    benches.push(b);
    return b;
  };
  afterAll(async () => {
    await Promise.all(benches.map((b) => b.cleanup()));
  });

  let b: WorkerBench;
  beforeAll(async () => {
    b = await bench();
  });

  it("takes over a dead consumer's entries, and acknowledges and counts the ones deleted from the stream", async () => {
    const events = generatePaymentEvents({ count: 5, seed: 61, accounts: 2, prefix: 'rcl' });
    const ids = await b.publish(events);
    await b.redis.xgroup('CREATE', b.keys.stream, b.group, '0');
    await b.redis.xreadgroup('GROUP', b.group, 'dead-pod', 'COUNT', 5, 'STREAMS', b.keys.stream, '>');
    await b.redis.xdel(b.keys.stream, ids[1] as string, ids[3] as string);

    const w = await b.startWorker({ consumer: 'rescuer' });
    await waitFor(async () => (await b.pendingCount()) === 0, { timeoutMs: 15_000 });
    await w.close();
    expect(await counter(w.metrics.claimed)).toBe(3);
    expect(await counter(w.metrics.claimedDeleted)).toBe(2);
    expect(await outcome(w, 'acked')).toBe(3);
    const done = await processedIds(b);
    expect([0, 2, 4].every((i) => done.has((events[i] as { id: string }).id))).toBe(true);
  });

  it('an entry already delivered more than max deliveries is dead-lettered without being processed', async () => {
    const x = await bench({ STREAMSINK_MAX_DELIVERIES: '3' });
    const events = generatePaymentEvents({ count: 2, seed: 62, accounts: 2, prefix: 'crashloop' });
    const [crashing] = await x.publish(events);
    await x.redis.xgroup('CREATE', x.keys.stream, x.group, '0');
    await x.redis.xreadgroup('GROUP', x.group, 'pod-1', 'COUNT', 2, 'STREAMS', x.keys.stream, '>');
    // As if every worker that took it had died while processing it.
    await x.redis.xclaim(x.keys.stream, x.group, 'pod-1', 0, crashing as string, 'RETRYCOUNT', 3, 'JUSTID');

    const w = await x.startWorker({ consumer: 'pod-2' });
    await waitFor(async () => (await x.pendingCount()) === 0, { timeoutMs: 15_000 });
    await w.close();
    const dlq = (await x.redis.xrange(x.keys.deadLetter, '-', '+')) as Array<[string, string[]]>;
    expect(dlqReasons(dlq)).toEqual(['max_deliveries_exceeded']);
    const done = await processedIds(x);
    expect(done.has((events[0] as { id: string }).id)).toBe(false);
    expect(done.has((events[1] as { id: string }).id)).toBe(true);
  });

  it('works through a backlog of suspects back to back, each alone, not one per claim interval', async () => {
    // The batch-mates of a process that crash-looped: all at the suspect count (3 with max deliveries 5) on a
    // dead consumer. Each is claimed alone and runs alone; a claim round every interval would take 40 intervals.
    const N = 40;
    const x = await bench({
      STREAMSINK_MAX_DELIVERIES: '5',
      STREAMSINK_CLAIM_IDLE_MS: '200',
      STREAMSINK_CLAIM_INTERVAL_MS: '3000',
    });
    const events = generatePaymentEvents({ count: N, seed: 69, accounts: 4, prefix: 'suspects' });
    const ids = await x.publish(events);
    await x.redis.xgroup('CREATE', x.keys.stream, x.group, '0');
    await x.redis.xreadgroup('GROUP', x.group, 'crashed', 'COUNT', N, 'STREAMS', x.keys.stream, '>');
    // Held by two processes that died: the next claim makes it 3.
    await x.redis.xclaim(x.keys.stream, x.group, 'crashed', 0, ...ids, 'RETRYCOUNT', 2, 'JUSTID');

    const logs = captureLogs('debug'); // the reclaimer logs each round, with what triggered it, at debug
    const rounds = (trigger: string) =>
      logs.lines.filter((l) => l.msg === 'reclaim round' && l.trigger === trigger).length;
    /** For each sink write: its size, how many writes ran beside it, and the interval rounds so far. */
    const writes: Array<{ size: number; beside: number; intervalRounds: number }> = [];
    let writing = 0;
    const w = await x.startWorker({
      consumer: 'rescuer',
      logger: logs.logger,
      wrapSink: (sink) => ({
        async write(items) {
          writes.push({ size: items.length, beside: writing, intervalRounds: rounds('interval') });
          writing += 1;
          try {
            return await sink.write(items);
          } finally {
            writing -= 1;
          }
        },
      }),
    });
    // Done, or (the old behaviour) a third interval went by with suspects still pending: fail on the
    // assertions below instead of waiting out 40 intervals.
    await waitFor(
      async () =>
        ((await outcome(w, 'acked')) === N && (await x.pendingCount()) === 0) || rounds('interval') >= 3,
      {
        timeoutMs: 60_000,
        describe: async () => `acked ${await outcome(w, 'acked')}, interval rounds ${rounds('interval')}`,
      },
    );
    await w.close();
    expect(await outcome(w, 'acked')).toBe(N);
    expect((await processedIds(x)).size).toBe(N);
    // All N ran after the first interval's round and before a second: the rounds in between were due because
    // the one before had claimed a suspect.
    expect(writes.map((c) => c.intervalRounds)).toEqual(Array(N).fill(1));
    expect(rounds('suspect')).toBeGreaterThanOrEqual(N - 1);
    // Still one at a time, each alone, with nothing else in flight.
    expect(writes.every((c) => c.size === 1 && c.beside === 0)).toBe(true);
    const alone = logs.lines.filter((l) => l.msg === 'suspected crash loop: processing entry alone');
    expect(alone.map((l) => l.deliveryCount)).toEqual(Array(N).fill(3));
    expect(await counter(w.metrics.claimed)).toBe(N);
    expect(await x.redis.xlen(x.keys.deadLetter)).toBe(0);
  });

  it('an unknown failure leaves the entry pending; redelivered until max deliveries, then dead-lettered', async () => {
    const x = await bench({ STREAMSINK_MAX_DELIVERIES: '3' });
    const events = generatePaymentEvents({ count: 1, seed: 63, accounts: 1, prefix: 'unknown' });
    await x.publish(events);
    let calls = 0;
    const w = await x.startWorker({
      consumer: 'only',
      wrapSink: () => ({
        async write() {
          calls += 1;
          throw new Error('a bug, not the message and not the database');
        },
      }),
    });
    await waitFor(
      async () => (await x.redis.xlen(x.keys.deadLetter)) === 1 && (await x.pendingCount()) === 0,
      {
        timeoutMs: 20_000,
      },
    );
    await w.close();
    expect(calls).toBe(3); // delivered 1, 2, 3: the third failure reaches max deliveries
    expect(await outcome(w, 'retried')).toBe(2);
    const dlq = (await x.redis.xrange(x.keys.deadLetter, '-', '+')) as Array<[string, string[]]>;
    expect(dlqReasons(dlq)).toEqual(['max_deliveries_exceeded']);
  });

  it('reading and reclaiming together never hold more than the in-flight limit', async () => {
    const x = await bench({
      STREAMSINK_MAX_IN_FLIGHT: '100',
      STREAMSINK_BATCH_SIZE: '50',
      STREAMSINK_CONCURRENCY: '2',
    });
    const events = generatePaymentEvents({ count: 1300, seed: 67, accounts: 20, prefix: 'limit' });
    await x.publish(events.slice(0, 300));
    await x.redis.xgroup('CREATE', x.keys.stream, x.group, '0');
    await x.redis.xreadgroup('GROUP', x.group, 'dead-pod', 'COUNT', 300, 'STREAMS', x.keys.stream, '>');
    await x.publish(events.slice(300));
    const w = await x.startWorker({
      consumer: 'bounded',
      // Slow batches keep the worker full while claimable and new entries both wait.
      wrapSink: (sink) => ({
        async write(items) {
          await new Promise((r) => setTimeout(r, 50));
          return await sink.write(items);
        },
      }),
    });
    let maxHeld = 0;
    await waitFor(
      async () => {
        maxHeld = Math.max(maxHeld, w.worker.health().inFlight, await x.pendingOf('bounded'));
        // Nothing pending is not yet done: between two reads the worker may hold nothing while new entries
        // still wait in the stream (once the dead pod's entries have all been claimed).
        return (await x.pendingCount()) === 0 && (await outcome(w, 'acked')) === 1300;
      },
      { timeoutMs: 30_000, intervalMs: 10 },
    );
    await w.close();
    expect(maxHeld).toBeGreaterThan(50);
    expect(maxHeld).toBeLessThanOrEqual(100);
    expect(await counter(w.metrics.claimed)).toBe(300);
    expect(await outcome(w, 'acked')).toBe(1300);
  });

  it('a slow batch keeps its entries: lease renewal stops an idle worker from claiming them', async () => {
    const x = await bench({ STREAMSINK_CLAIM_IDLE_MS: '1000', STREAMSINK_MAX_DELIVERIES: '1' });
    const events = generatePaymentEvents({ count: 50, seed: 68, accounts: 5, prefix: 'lease' });
    await x.publish(events);
    // The slow sink holds its batch until the test opens the gate: a Postgres that takes as long as we say.
    let openGate = () => {};
    const gate = new Promise<void>((resolve) => {
      openGate = resolve;
    });
    const slow = await x.startWorker({
      consumer: 'slow',
      wrapSink: (sink) => ({
        async write(items) {
          await gate;
          return await sink.write(items);
        },
      }),
    });
    await waitFor(async () => (await x.pendingOf('slow')) === 50);
    const idle = await x.startWorker({ consumer: 'idle' });
    // Hold the batch for four claim-idle periods while the idle worker runs its reclaim rounds; the entries
    // must stay with the slow worker all along.
    const heldFrom = Date.now();
    let leastHeld = 50;
    await waitFor(
      async () => {
        leastHeld = Math.min(leastHeld, await x.pendingOf('slow'));
        return Date.now() - heldFrom >= 4 * 1000;
      },
      { timeoutMs: 20_000, intervalMs: 100 },
    );
    expect(leastHeld).toBe(50);
    openGate();
    await waitFor(async () => (await x.pendingCount()) === 0, { timeoutMs: 20_000 });
    await Promise.all([slow.close(), idle.close()]);
    expect(await counter(idle.metrics.claimed)).toBe(0);
    expect(await outcome(slow, 'acked')).toBe(50);
    // With max deliveries 1, a single claim would have dead-lettered good events.
    expect(await x.redis.xlen(x.keys.deadLetter)).toBe(0);
  });

  it('removes a long-idle consumer with nothing pending, never one with pending entries, never itself', async () => {
    const x = await bench({
      STREAMSINK_CONSUMER_IDLE_DELETE_MS: '1000',
      STREAMSINK_CLAIM_IDLE_MS: '60000',
      STREAMSINK_CLAIM_INTERVAL_MS: '200',
    });
    await x.publish(generatePaymentEvents({ count: 2, seed: 64, accounts: 1, prefix: 'stale' }));
    await x.redis.xgroup('CREATE', x.keys.stream, x.group, '0');
    await x.redis.xgroup('CREATECONSUMER', x.keys.stream, x.group, 'gone-idle');
    await x.redis.xreadgroup('GROUP', x.group, 'gone-busy', 'COUNT', 1, 'STREAMS', x.keys.stream, '>');
    const w = await x.startWorker({ consumer: 'sweeper' });
    const names = async () =>
      ((await x.redis.xinfo('CONSUMERS', x.keys.stream, x.group)) as string[][]).map((c) => c[1]);
    await waitFor(async () => !(await names()).includes('gone-idle'), { timeoutMs: 15_000 });
    expect(await names()).toEqual(expect.arrayContaining(['gone-busy', 'sweeper']));
    await w.close();

    // The atomic check itself: a consumer with a pending entry is kept.
    const client = createStreamClient({
      redis: x.redis,
      stream: x.keys.stream,
      group: x.group,
      consumer: 'sweeper',
    });
    expect(await client.deleteConsumerIfIdle('gone-busy')).toBe(false);
    expect(await x.pendingOf('gone-busy')).toBe(1);
  });

  it('recreates the group when the stream vanishes, with a metric, and keeps working', async () => {
    const x = await bench();
    const w = await x.startWorker({ consumer: 'survivor' });
    await x.publish(generatePaymentEvents({ count: 10, seed: 65, accounts: 2, prefix: 'van1' }));
    await waitFor(async () => (await outcome(w, 'acked')) === 10);
    await x.redis.del(x.keys.stream);
    await waitFor(async () => (await counter(w.metrics.groupRecreated)) >= 1, { timeoutMs: 10_000 });
    await waitFor(async () => (await x.redis.exists(x.keys.stream)) === 1);
    await x.publish(generatePaymentEvents({ count: 10, seed: 66, accounts: 2, prefix: 'van2' }));
    await waitFor(async () => (await outcome(w, 'acked')) === 20, { timeoutMs: 10_000 });
    expect(w.worker.health().loopTurnedAt).toBeGreaterThan(Date.now() - 5000);
    await w.close();
  });
});
