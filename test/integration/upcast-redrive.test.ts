import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { z } from 'zod';
import { dlqList } from '../../src/admin/dlq.ts';
import { type AnyPipeline, definePipeline } from '../../src/consumers/define-pipeline.ts';
import { eventVersions } from '../../src/consumers/event-versions.ts';
import type { Envelope } from '../../src/lib/envelope.ts';
import { waitFor } from '../helpers/wait.ts';
import { createWorkerBench, type WorkerBench } from '../helpers/worker-harness.ts';

/**
 * Schema evolution end to end (docs/pipelines.md#versions-and-upcasters): a worker whose pipeline knows only
 * v1 dead-letters a v2 event as `unsupported_version`; after deploying a pipeline that knows v2 (and upcasts
 * v1 to it), `streamsink dlq redrive` applies it exactly once, and a redelivery of a v1 event applied before
 * the upgrade is still a duplicate (the content hash is over the event as published, not as upcast).
 */
const MAIN = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));
const V1 = z.object({ account: z.string(), amount: z.number() });
const V2 = z.object({ account: z.string(), amountMinor: z.number().int(), currency: z.string().length(3) });

async function add(
  tx: { query: (text: string, values: unknown[]) => Promise<unknown> },
  account: string,
  minor: number,
) {
  // A running total: applying an event twice would show.
  await tx.query(
    `INSERT INTO upcast_totals (account, total_minor, events) VALUES ($1, $2, 1)
     ON CONFLICT (account) DO UPDATE SET total_minor = upcast_totals.total_minor + $2, events = upcast_totals.events + 1`,
    [account, minor],
  );
}

const v1Only = definePipeline({
  name: 'orders',
  events: [{ type: 'order.paid', v: 1, schema: V1 }],
  async handle(tx, event) {
    await add(tx, event.data.account, Math.round(event.data.amount * 100));
  },
});

const knowsV2 = definePipeline({
  name: 'orders',
  events: eventVersions('order.paid', 1, V1).upcast(V2, (d) => ({
    account: d.account,
    amountMinor: Math.round(d.amount * 100),
    currency: 'EUR',
  })).specs,
  async handle(tx, event) {
    await add(tx, event.data.account, event.data.amountMinor);
  },
});

let bench: WorkerBench;
beforeAll(async () => {
  bench = await createWorkerBench(inject('redisUrl'), inject('databaseUrl'));
  await bench.db.query(
    'CREATE TABLE upcast_totals (account text PRIMARY KEY, total_minor bigint NOT NULL, events int NOT NULL)',
  );
});
afterAll(async () => {
  await bench.cleanup();
});

const envelope = (id: string, v: number, data: Record<string, unknown>): Envelope => ({
  id,
  type: 'order.paid',
  v,
  key: 'o1',
  ts: '2026-11-21T10:00:00.000Z',
  data,
});

async function inboxRows(): Promise<number> {
  const { rows } = await bench.db.query('SELECT count(*)::int AS n FROM streamsink_inbox');
  return rows[0].n;
}

async function totals(): Promise<{ total_minor: string; events: number } | undefined> {
  const { rows } = await bench.db.query(
    "SELECT total_minor::text, events FROM upcast_totals WHERE account = 'a1'",
  );
  return rows[0];
}

async function runUntil(pipeline: AnyPipeline, done: () => Promise<boolean>) {
  const worker = await bench.startWorker({ pipeline });
  await waitFor(async () => (await done()) && (await bench.pendingCount()) === 0, { timeoutMs: 30_000 });
  await worker.close();
}

function redrive(): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [MAIN, 'dlq', 'redrive', '--stream', bench.streamName, '--reason', 'unsupported_version', '--json'],
      { env: { PATH: process.env.PATH, REDIS_URL: bench.redisUrl, STREAMSINK_KEY_PREFIX: bench.prefix } },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('upcasters and redrive, end to end', () => {
  it('unsupported_version until the new schema is deployed, then a redrive applies it exactly once', async () => {
    const first = envelope('paid-1', 1, { account: 'a1', amount: 10.5 });
    await bench.publish([first, envelope('paid-2', 2, { account: 'a1', amountMinor: 700, currency: 'USD' })]);

    await runUntil(
      v1Only,
      async () => (await inboxRows()) === 1 && (await bench.redis.xlen(bench.keys.deadLetter)) === 1,
    );
    const dead = await dlqList({ redis: bench.redis, stream: bench.streamName, keyPrefix: bench.prefix });
    expect(dead.map((d) => [d.meta.reason, d.meta.eventId])).toEqual([['unsupported_version', 'paid-2']]);
    expect(await totals()).toEqual({ total_minor: '1050', events: 1 });

    // Deploy: the pipeline now knows v2 and upcasts v1. A v1 event applied before comes again (a producer
    // retry by raw XADD): it must stay a duplicate, not turn into an id_conflict because it is now upcast.
    // A v1 event new to the pipeline is upcast and applied as v2.
    await bench.publish([first, envelope('paid-3', 1, { account: 'a1', amount: 2.25 })]);
    const worker = await bench.startWorker({ pipeline: knowsV2 });
    const run = await redrive();
    expect(run.code, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ selected: 1, redriven: 1, failed: 0 });
    await waitFor(async () => (await inboxRows()) === 3 && (await bench.pendingCount()) === 0, {
      timeoutMs: 30_000,
    });
    expect(await totals()).toEqual({ total_minor: '1975', events: 3 });
    expect(await bench.redis.xlen(bench.keys.deadLetter)).toBe(0);

    // Redriving again finds nothing; the totals stay.
    const again = await redrive();
    expect(again.code, again.stderr).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject({ selected: 0, redriven: 0 });
    await waitFor(async () => (await bench.pendingCount()) === 0);
    await worker.close();
    expect(await totals()).toEqual({ total_minor: '1975', events: 3 });
    expect(await bench.redis.xlen(bench.keys.deadLetter)).toBe(0);
  });
});
