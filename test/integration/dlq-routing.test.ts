import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { definePipeline } from '../../src/consumers/define-pipeline.ts';
import { createPaymentsPipeline } from '../../src/consumers/pipelines/payments/index.ts';
import { decodeDeadLetter } from '../../src/lib/dead-letter-entry.ts';
import { encodeEnvelope } from '../../src/lib/envelope.ts';
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
 * Routing to the dead-letter stream through the real worker, Postgres sink and dead-letterer: every kind of
 * bad event ends there exactly once with the right reason, every good one is applied exactly once, nothing
 * stays pending, and a message that kills its worker process on every delivery ends there too.
 */

const KILLER = fileURLToPath(new URL('../fixtures/killer-pipeline.ts', import.meta.url));
const CLI = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));
const MAX_DELIVERIES = 3;
/**
 * Suspects (entries at the crash-loop count) are claimed one per reclaim round (quarantine.ts); the round after
 * one runs as soon as it has finished (reclaim-due.ts), but any other round waits STREAMSINK_CLAIM_INTERVAL_MS
 * (default a quarter of the harness's 1 s claim idle), e.g. the first after each respawn. The shortest interval
 * the config takes keeps those waits short.
 */
const BENCH_ENV = {
  STREAMSINK_MAX_DELIVERIES: String(MAX_DELIVERIES),
  STREAMSINK_CLAIM_INTERVAL_MS: '50',
};

async function processedCount(bench: WorkerBench): Promise<number> {
  const { rows } = await bench.db.query('SELECT count(*)::int AS n FROM streamsink_inbox');
  return rows[0].n;
}

async function deadLetters(bench: WorkerBench) {
  const raw = (await bench.redis.xrange(bench.keys.deadLetter, '-', '+')) as Array<[string, string[]]>;
  return raw.map(([id, fields]) => {
    const decoded = decodeDeadLetter(fields);
    if (!decoded.ok) throw new Error(`dead-letter entry ${id}: ${decoded.message}`);
    return { id, ...decoded.value };
  });
}

/** Raw pipelined XADD of field lists, in order; returns the entry ids. */
async function xaddAll(bench: WorkerBench, entries: readonly string[][]): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < entries.length; i += 2000) {
    const p = bench.redis.pipeline();
    for (const fields of entries.slice(i, i + 2000)) p.xadd(bench.keys.stream, '*', ...fields);
    for (const [error, id] of (await p.exec()) ?? []) {
      if (error) throw error;
      ids.push(String(id));
    }
  }
  return ids;
}

function payment(id: string, overrides: Partial<PaymentEventInput['data']> = {}, type = 'payment.captured') {
  const data = { paymentId: id, accountId: `${id}-acct`, amountMinor: 100, currency: 'EUR', ...overrides };
  return { id, type, v: 1, key: id, ts: '2026-11-21T10:00:00.000Z', data };
}

/**
 * Worker processes of the killer fixture, one at a time: `respawn()` starts the next when the current one died
 * (call it from a polling loop).
 */
function killerFleet(bench: WorkerBench, killId: string, env: Record<string, string>) {
  const children: Array<{ child: ChildProcess; exited: Promise<unknown>; output: () => string }> = [];
  const spawnOne = () => {
    const child = spawn(process.execPath, [CLI, 'worker', '--pipeline', KILLER], {
      env: {
        ...process.env,
        ...bench.env,
        ...env,
        STREAMSINK_CONSUMER: `killer-${children.length}`,
        KILL_EVENT_ID: killId,
      },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let out = '';
    child.stderr?.on('data', (d: Buffer) => {
      out += d.toString();
    });
    const exited = new Promise((resolve) => child.once('exit', resolve));
    children.push({ child, exited, output: () => out });
    return child;
  };
  let current = spawnOne();
  let deaths = 0;
  return {
    respawn() {
      if (current.exitCode === null && current.signalCode === null) return;
      deaths += 1;
      current = spawnOne();
    },
    deaths: () => deaths,
    output: () => children.map((c) => c.output()).join(''),
    async stop() {
      for (const c of children)
        if (c.child.exitCode === null && c.child.signalCode === null) c.child.kill('SIGTERM');
      await Promise.all(children.map((c) => c.exited));
    },
  };
}

describe('dead-letter routing', () => {
  let bench: WorkerBench;
  beforeAll(async () => {
    bench = await createWorkerBench(inject('redisUrl'), inject('databaseUrl'), BENCH_ENV);
  });
  afterAll(async () => {
    await bench?.cleanup();
  });

  it('10,000 good and 100 bad of each kind: good applied once, bad dead-lettered once with its reason', async () => {
    const good = generatePaymentEvents({ count: 10_000, seed: 404, accounts: 200, prefix: 'dlqr' });
    const kinds: Record<string, { reason: string; fields: (i: number) => string[] }> = {
      json: {
        reason: 'invalid_json',
        fields: (i) => {
          const f = encodeEnvelope(payment(`bad-json-${i}`));
          f[f.indexOf('data') + 1] = '{"paymentId": "bad-json-';
          return f;
        },
      },
      schema: {
        reason: 'schema_violation',
        fields: (i) => encodeEnvelope(payment(`bad-schema-${i}`, { amountMinor: -5 })),
      },
      type: {
        reason: 'unknown_type',
        fields: (i) => encodeEnvelope(payment(`bad-type-${i}`, {}, 'payment.voided')),
      },
      currency: {
        reason: 'unsupported_currency',
        fields: (i) => encodeEnvelope(payment(`bad-currency-${i}`, { currency: 'JPY' })),
      },
      throws: {
        reason: 'max_deliveries_exceeded',
        fields: (i) => encodeEnvelope(payment(`bad-throws-${i}`)),
      },
    };
    const throwing = new Set(Array.from({ length: 100 }, (_, i) => `bad-throws-${i}`));
    // Spread the bad entries evenly through the good ones.
    const entries: string[][] = good.map((e) => encodeEnvelope(e));
    const bad: Array<{ kind: string; eventId: string }> = [];
    let at = 7;
    for (let i = 0; i < 100; i++) {
      for (const [kind, k] of Object.entries(kinds)) {
        entries.splice(at % (entries.length + 1), 0, k.fields(i));
        bad.push({ kind, eventId: `bad-${kind}-${i}` });
        at += 23;
      }
    }
    const ids = await xaddAll(bench, entries);
    const badEntryIds = new Set(ids.filter((_, i) => (entries[i]?.[1] ?? '').startsWith('bad-')));
    expect(badEntryIds.size).toBe(500);

    // The payments pipeline with a handler bug: decide throws a plain Error for some events.
    const payments = createPaymentsPipeline({ currencies: ['EUR', 'USD', 'GBP'] });
    const buggy = definePipeline({
      ...payments,
      decide(event, ctx) {
        if (throwing.has(event.id)) throw new Error(`handler bug: cannot apply ${event.id}`);
        return payments.decide?.(event, ctx) ?? [];
      },
    });
    const worker = await bench.startWorker({ consumer: 'routing', pipeline: buggy });
    await waitFor(
      async () =>
        (await processedCount(bench)) === good.length &&
        (await bench.redis.xlen(bench.keys.deadLetter)) === 500 &&
        (await bench.pendingCount()) === 0,
      {
        timeoutMs: 90_000,
        intervalMs: 250,
        describe: async () =>
          `processed ${await processedCount(bench)}, dead letters ${await bench.redis.xlen(bench.keys.deadLetter)}, ` +
          `pending ${await bench.pendingCount()}`,
      },
    );

    const dead = await deadLetters(bench);
    expect(dead).toHaveLength(500);
    // Exactly once each: 500 distinct source entries, all of them bad ones.
    expect(new Set(dead.map((d) => d.meta.sourceId))).toEqual(badEntryIds);
    const reasonOf = new Map(dead.map((d) => [d.meta.eventId, d.meta.reason]));
    for (const b of bad) expect(reasonOf.get(b.eventId), b.eventId).toBe(kinds[b.kind]?.reason);
    for (const d of dead) {
      expect(d.meta.group).toBe(bench.group);
      expect(d.meta.pipeline).toBe('payments');
      expect(d.meta.sourceStream).toBe(bench.keys.stream);
      // The original entry is kept exactly, whatever was wrong with it.
      const sourceIndex = ids.indexOf(d.meta.sourceId);
      expect(d.original).toEqual(entries[sourceIndex]);
      if (d.meta.reason === 'max_deliveries_exceeded') {
        expect(d.meta.deliveryCount).toBe(MAX_DELIVERIES);
        expect(d.meta.errorMessage).toContain('handler bug');
      } else {
        expect(d.meta.deliveryCount).toBe(1);
      }
    }
    const diff = diffState(expectedState(good), await readState(bench.db, 'dlqr'));
    expect(diff.examples).toEqual([]);
    expect(stateMatches(diff)).toBe(true);
    const { rows } = await bench.db.query(
      "SELECT count(*)::int AS n FROM payments WHERE payment_id LIKE 'bad-%'",
    );
    expect(rows[0].n).toBe(0);

    // The worker is still running: a late good event is applied.
    await bench.publish([payment('dlqr-late')]);
    await waitFor(async () => (await processedCount(bench)) === good.length + 1, { timeoutMs: 20_000 });
    expect(await bench.pendingCount()).toBe(0);
    await worker.close();
  });

  it('a message that kills the worker process on every delivery ends in the dead-letter stream', async () => {
    const before = await processedCount(bench);
    const deadBefore = await bench.redis.xlen(bench.keys.deadLetter);
    const good = generatePaymentEvents({ count: 400, seed: 9, accounts: 20, prefix: 'kill' });
    const killer = payment('kill-me');
    const events = [...good.slice(0, 200), killer, ...good.slice(200)];
    await bench.publish(events);

    // One worker process after another, as Kubernetes would restart a crashing pod. Each holds one entry at
    // a time, so the killer's delivery count is the only one its crashes raise (see the next test for more).
    const fleet = killerFleet(bench, 'kill-me', {
      STREAMSINK_MAX_IN_FLIGHT: '1',
      STREAMSINK_BATCH_SIZE: '1',
    });
    try {
      await waitFor(
        async () => {
          fleet.respawn();
          return (
            (await processedCount(bench)) === before + good.length &&
            (await bench.redis.xlen(bench.keys.deadLetter)) === deadBefore + 1 &&
            (await bench.pendingCount()) === 0
          );
        },
        {
          timeoutMs: 90_000,
          intervalMs: 100,
          describe: async () =>
            `deaths ${fleet.deaths()}, processed ${(await processedCount(bench)) - before}, ` +
            `pending ${await bench.pendingCount()}; ${fleet.output()}`,
        },
      );
    } finally {
      await fleet.stop();
    }

    // Handled MAX_DELIVERIES times, each one killing its process; the next delivery dead-letters it unhandled.
    expect(fleet.deaths()).toBe(MAX_DELIVERIES);
    const dead = (await deadLetters(bench)).filter((d) => d.meta.eventId === 'kill-me');
    expect(dead).toHaveLength(1);
    expect(dead[0]?.meta).toMatchObject({
      reason: 'max_deliveries_exceeded',
      deliveryCount: MAX_DELIVERIES + 1,
    });
    const diff = diffState(expectedState(good), await readState(bench.db, 'kill'));
    expect(diff.examples).toEqual([]);
    expect(stateMatches(diff)).toBe(true);
  });

  it('with real batch sizes only the killer is dead-lettered: its batch-mates run apart from it, applied once', async () => {
    const b = await createWorkerBench(inject('redisUrl'), inject('databaseUrl'), BENCH_ENV);
    try {
      const good = generatePaymentEvents({ count: 400, seed: 10, accounts: 20, prefix: 'mates' });
      await b.publish([...good.slice(0, 200), payment('kill-me-too'), ...good.slice(200)]);
      // Every crash raises the delivery count of everything its process held. Entries claimed at the suspect
      // count are processed alone (src/consumers/quarantine.ts), so only the killer's own count reaches the limit.
      const fleet = killerFleet(b, 'kill-me-too', {
        STREAMSINK_MAX_IN_FLIGHT: '100',
        STREAMSINK_BATCH_SIZE: '20',
      });
      try {
        await waitFor(
          async () => {
            fleet.respawn();
            // Settled: nothing pending and every event accounted for (applied or dead-lettered), so that a
            // regression fails on the assertions below at once instead of at the timeout.
            const deadCount = await b.redis.xlen(b.keys.deadLetter);
            return (
              deadCount >= 1 &&
              (await processedCount(b)) + deadCount >= good.length + 1 &&
              (await b.pendingCount()) === 0
            );
          },
          {
            timeoutMs: 90_000,
            intervalMs: 100,
            describe: async () =>
              `deaths ${fleet.deaths()}, processed ${await processedCount(b)}, ` +
              `dead ${(await deadLetters(b)).map((d) => d.meta.eventId).join(',')}, ` +
              `pending ${await b.pendingCount()}; ${fleet.output()}`,
          },
        );
        expect(fleet.deaths()).toBe(MAX_DELIVERIES);
      } finally {
        await fleet.stop();
      }
      const dead = await deadLetters(b);
      expect(dead.map((d) => d.meta.eventId)).toEqual(['kill-me-too']);
      expect(dead[0]?.meta).toMatchObject({
        reason: 'max_deliveries_exceeded',
        deliveryCount: MAX_DELIVERIES + 1,
      });
      // Every good event applied exactly once: the projections match the model (a double apply would not).
      const diff = diffState(expectedState(good), await readState(b.db, 'mates'));
      expect(diff.examples).toEqual([]);
      expect(stateMatches(diff)).toBe(true);
      expect(await processedCount(b)).toBe(good.length);
      expect(await b.pendingCount()).toBe(0);
    } finally {
      await b.cleanup();
    }
  });
});
