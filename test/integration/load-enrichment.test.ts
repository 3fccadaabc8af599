import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { z } from 'zod';
import { definePipeline } from '../../src/consumers/define-pipeline.ts';
import type { Envelope } from '../../src/lib/envelope.ts';
import { PermanentDependencyError } from '../../src/lib/errors.ts';
import { migrate } from '../../src/lib/migrations.ts';
import { type FlakyService, scoreOf, startFlakyService } from '../helpers/flaky-service.ts';
import { uniqueName } from '../helpers/names.ts';
import { waitFor } from '../helpers/wait.ts';
import { createWorkerBench, type InProcessWorker, type WorkerBench } from '../helpers/worker-harness.ts';

/**
 * The enrich stage against a real HTTP service (node:http, in this process) with real Redis and Postgres:
 * a flaky service (503 for a third of calls, some that hang) still gives every event exactly once and no dead
 * letter; a service down for 15 s opens its breaker, pauses reading (no new entry enters the pending list),
 * dead-letters nothing and recovers by itself; a permanent refusal dead-letters only that event; a redelivery
 * reuses the recorded enrichment instead of calling the service again.
 */
const OUTAGE_MS = 15_000;

describe('enrich stage with ctx.call', () => {
  let bench: WorkerBench;
  let service: FlakyService;
  const table = uniqueName('scored').toLowerCase();

  const pipeline = (url: () => string) =>
    definePipeline({
      name: uniqueName('enrich').toLowerCase(),
      events: [{ type: 'order.placed', v: 1, schema: z.object({ orderId: z.string() }) }],
      migrations: [
        {
          name: '0001-scored',
          sql: `CREATE TABLE ${table} (event_id text PRIMARY KEY, score int NOT NULL, applied int NOT NULL)`,
        },
      ],
      dependencies: {
        fraud: { maxConcurrent: 8, breaker: { windowMs: 2000, minCalls: 5, halfOpenAfterMs: 500 } },
      },
      enrich: (events, ctx) =>
        ctx.settle(events, (e) =>
          ctx.call(
            'fraud',
            async (signal) => {
              const res = await fetch(`${url()}/score/${encodeURIComponent(e.id)}`, { signal });
              if (res.status === 422)
                throw new PermanentDependencyError(`fraud service refused ${e.id}: 422`);
              if (!res.ok) throw new Error(`fraud service: ${res.status}`);
              return (await res.json()) as { id: string; score: number };
            },
            { timeoutMs: 300, retries: 6 },
          ),
        ),
      async apply(tx, events) {
        const scores = events.map((e) => (e.enrichment as { score: number }).score);
        await tx.query(
          `INSERT INTO ${table} (event_id, score, applied)
           SELECT id, score, 1 FROM unnest($1::text[], $2::int[]) AS t(id, score)
           ON CONFLICT (event_id) DO UPDATE SET applied = ${table}.applied + 1`,
          [events.map((e) => e.id), scores],
        );
      },
    });

  let def: ReturnType<typeof pipeline>;
  const workers: InProcessWorker[] = [];

  beforeAll(async () => {
    bench = await createWorkerBench(inject('redisUrl'), inject('databaseUrl'), {
      STREAMSINK_BATCH_SIZE: '50',
      STREAMSINK_MAX_IN_FLIGHT: '200',
      // Any entry redelivered because of the service's trouble would soon be dead-lettered.
      STREAMSINK_MAX_DELIVERIES: '2',
      STREAMSINK_CLAIM_IDLE_MS: '60000',
    });
    service = await startFlakyService(() => 'ok');
    def = pipeline(() => service.url);
    await migrate(bench.db, undefined, { pipelines: [def] });
  });
  afterEach(async () => {
    for (const w of workers.splice(0)) await w.close();
  });
  afterAll(async () => {
    await service?.close();
    await bench?.cleanup();
  });

  let seq = 0;
  const orders = (n: number, tag: string): Envelope<unknown>[] =>
    Array.from({ length: n }, () => {
      const i = seq++;
      return {
        id: `${tag}-${i}`,
        type: 'order.placed',
        v: 1,
        key: `k${i % 17}`,
        ts: new Date(Date.UTC(2026, 11, 1) + i).toISOString(),
        data: { orderId: `o${i}` },
      };
    });

  async function rows(ids: readonly string[]) {
    const { rows } = await bench.db.query<{ event_id: string; score: number; applied: number }>(
      `SELECT event_id, score, applied FROM ${table} WHERE event_id = ANY($1::text[])`,
      [ids],
    );
    return rows;
  }
  async function expectExactlyOnce(events: readonly Envelope<unknown>[]) {
    const found = await rows(events.map((e) => e.id));
    expect(found).toHaveLength(events.length);
    for (const r of found) {
      expect(r.applied, r.event_id).toBe(1);
      expect(r.score, r.event_id).toBe(scoreOf(r.event_id));
    }
    const { rows: inbox } = await bench.db.query<{ event_id: string; enrichment: { score: number } }>(
      'SELECT event_id, enrichment FROM streamsink_inbox WHERE pipeline = $1 AND event_id = ANY($2::text[])',
      [def.name, events.map((e) => e.id)],
    );
    expect(inbox).toHaveLength(events.length);
    for (const r of inbox) expect(r.enrichment).toEqual({ id: r.event_id, score: scoreOf(r.event_id) });
  }
  const applied = async (events: readonly Envelope<unknown>[]) =>
    (await rows(events.map((e) => e.id))).length === events.length;
  const value = async (w: InProcessWorker, name: string, labels: Record<string, string>) => {
    const metric = (await w.registry.getSingleMetric(name)?.get()) as
      | { values: Array<{ value: number; labels: Record<string, string | number> }> }
      | undefined;
    return (metric?.values ?? [])
      .filter((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x))
      .reduce((sum, v) => sum + v.value, 0);
  };
  const deadLettered = (w: InProcessWorker) =>
    value(w, 'streamsink_messages_total', { outcome: 'dead_lettered' });
  async function entriesRead(): Promise<number> {
    const groups = (await bench.redis.xinfo('GROUPS', bench.keys.stream)) as unknown[][];
    const g = groups.find((x) => x[x.indexOf('name') + 1] === bench.group) as unknown[];
    return Number(g[g.indexOf('entries-read') + 1]);
  }

  it('a flaky service (503 for a third of calls, some hang): every event applied exactly once, none dead-lettered', async () => {
    service.setFault((call) => (call % 3 === 2 ? '503' : call % 11 === 4 ? 'hang' : 'ok'));
    const events = orders(600, 'flaky');
    await bench.publish(events);
    const w = await bench.startWorker({ pipeline: def });
    workers.push(w);
    await waitFor(() => applied(events), { timeoutMs: 90_000, intervalMs: 200 });
    await waitFor(async () => (await bench.pendingCount()) === 0, { timeoutMs: 10_000 });
    await expectExactlyOnce(events);
    expect(service.served['503']).toBeGreaterThan(0);
    expect(service.served.hang).toBeGreaterThan(0);
    // Every hanging call was aborted by its timeout (a slow answer on a loaded machine may time out too).
    expect(
      await value(w, 'streamsink_dependency_calls_total', { dependency: 'fraud', result: 'timeout' }),
    ).toBeGreaterThanOrEqual(service.served.hang);
    expect(await bench.redis.xlen(bench.keys.deadLetter)).toBe(0);
    expect(await deadLettered(w)).toBe(0);
  });

  it('the service down for 15 s: breaker opens, reading pauses, nothing dead-lettered, recovers by itself', async () => {
    service.setFault(() => 'ok');
    const before = orders(100, 'pre');
    await bench.publish(before);
    const w = await bench.startWorker({ pipeline: def });
    workers.push(w);
    await waitFor(() => applied(before), { timeoutMs: 30_000 });

    const downAt = Date.now();
    service.setFault(() => 'reset');
    const during = orders(600, 'down');
    await bench.publish(during);
    const circuit = () => value(w, 'streamsink_circuit_state', { dependency: 'fraud' });
    await waitFor(async () => (await circuit()) === 2 && w.worker.health().sinkFailing, {
      timeoutMs: OUTAGE_MS,
      describe: async () => `circuit ${await circuit()}, sinkFailing ${w.worker.health().sinkFailing}`,
    });
    // From here on the worker holds what it had read and reads nothing more.
    const readAtOpen = await entriesRead();
    const pendingAtOpen = await bench.pendingCount();
    expect(pendingAtOpen).toBeLessThanOrEqual(w.config.maxInFlight);
    await waitFor(() => Date.now() - downAt >= OUTAGE_MS, { timeoutMs: OUTAGE_MS + 1000, intervalMs: 250 });
    expect(await entriesRead()).toBe(readAtOpen);
    expect(await bench.pendingCount()).toBe(pendingAtOpen);
    expect(await bench.redis.xlen(bench.keys.deadLetter)).toBe(0);
    expect(
      await value(w, 'streamsink_dependency_calls_total', { dependency: 'fraud', result: 'rejected' }),
    ).toBeGreaterThan(0);
    expect(await value(w, 'streamsink_backpressure_paused', {})).toBe(1);
    // The sink fails because of the service, not Postgres (streamsink_dependency_up{postgres} stays 1).
    expect(w.worker.health().waitingOnService).toBe('fraud');
    expect(w.worker.health().sinkUnreachable).toBe(false);

    service.setFault(() => 'ok');
    await waitFor(() => applied(during), { timeoutMs: 60_000, intervalMs: 200 });
    await waitFor(async () => (await bench.pendingCount()) === 0, { timeoutMs: 10_000 });
    await expectExactlyOnce([...before, ...during]);
    expect(await circuit()).toBe(0);
    for (const to of ['open', 'half_open', 'closed'])
      expect(
        await value(w, 'streamsink_circuit_transitions_total', { dependency: 'fraud', to }),
        to,
      ).toBeGreaterThan(0);
    expect(await bench.redis.xlen(bench.keys.deadLetter)).toBe(0);
    expect(await deadLettered(w)).toBe(0);
    expect(w.worker.health().sinkFailing).toBe(false);
  });

  it('a permanent refusal dead-letters that event alone, with its reason; the rest apply once', async () => {
    const events = orders(120, 'refuse');
    const refused = new Set(events.filter((_, i) => i % 40 === 7).map((e) => e.id));
    service.setFault((_call, id) => (refused.has(id) ? '422' : 'ok'));
    const dlqBefore = await bench.redis.xlen(bench.keys.deadLetter);
    await bench.publish(events);
    const w = await bench.startWorker({ pipeline: def });
    workers.push(w);
    const good = events.filter((e) => !refused.has(e.id));
    await waitFor(() => applied(good), { timeoutMs: 30_000 });
    await waitFor(async () => (await bench.redis.xlen(bench.keys.deadLetter)) === dlqBefore + refused.size, {
      timeoutMs: 10_000,
    });
    await expectExactlyOnce(good);
    expect(await rows([...refused])).toEqual([]);
    const dead = (await bench.redis.xrange(bench.keys.deadLetter, '-', '+')).slice(dlqBefore);
    for (const [, fields] of dead)
      expect(fields[fields.indexOf('dlq.reason') + 1]).toBe('dependency_refused');
    expect(await deadLettered(w)).toBe(refused.size);
  });

  it('a redelivered event reuses its recorded enrichment: the service is not called again', async () => {
    service.setFault(() => 'ok');
    const events = orders(80, 'replay');
    await bench.publish(events);
    const w = await bench.startWorker({ pipeline: def });
    workers.push(w);
    await waitFor(() => applied(events), { timeoutMs: 30_000 });
    const calls = service.served.ok;
    // The same events published again (a producer retry that got through twice): duplicates for the inbox.
    await bench.publish(events);
    await waitFor(
      async () => (await value(w, 'streamsink_messages_total', { outcome: 'duplicate' })) === 80,
      {
        timeoutMs: 30_000,
      },
    );
    expect(service.served.ok).toBe(calls);
    await expectExactlyOnce(events);
  });
});
