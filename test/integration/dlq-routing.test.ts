import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Pipeline } from '../../src/consumers/types.ts';
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

const KILLER = fileURLToPath(new URL('../fixtures/killer-worker.ts', import.meta.url));
const MAX_DELIVERIES = 3;

async function processedCount(bench: WorkerBench): Promise<number> {
  const { rows } = await bench.db.query('SELECT count(*)::int AS n FROM streamsink_processed');
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

describe('dead-letter routing', () => {
  let bench: WorkerBench;
  beforeAll(async () => {
    bench = await createWorkerBench(inject('redisUrl'), inject('databaseUrl'), {
      STREAMSINK_MAX_DELIVERIES: String(MAX_DELIVERIES),
    });
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

    const wrapPipeline = (real: Pipeline): Pipeline => ({
      ...real,
      accept: (envelope) => real.accept(envelope),
      async apply(tx, items, context) {
        const victim = items.find((i) => throwing.has(i.envelope.id));
        if (victim) throw new Error(`handler bug: cannot apply ${victim.envelope.id}`);
        await real.apply(tx, items, context);
      },
    });
    const worker = await bench.startWorker({ consumer: 'routing', wrapPipeline });
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
    // a time, so the killer's delivery count is the only one its crashes raise (see the README on why).
    const children: Array<{ child: ChildProcess; exited: Promise<number | null>; output: () => string }> = [];
    const spawnKiller = (n: number) => {
      const child = spawn(process.execPath, [KILLER], {
        env: {
          ...process.env,
          ...bench.env,
          STREAMSINK_CONSUMER: `killer-${n}`,
          STREAMSINK_MAX_IN_FLIGHT: '1',
          STREAMSINK_BATCH_SIZE: '1',
          KILL_EVENT_ID: 'kill-me',
        },
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      let out = '';
      child.stderr?.on('data', (d: Buffer) => {
        out += d.toString();
      });
      const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
      children.push({ child, exited, output: () => out });
      return children[children.length - 1] as (typeof children)[number];
    };
    let deaths = 0;
    try {
      let current = spawnKiller(0);
      await waitFor(
        async () => {
          if (current.child.exitCode !== null || current.child.signalCode !== null) {
            deaths += 1;
            current = spawnKiller(deaths);
          }
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
            `deaths ${deaths}, processed ${(await processedCount(bench)) - before}, pending ${await bench.pendingCount()}; ` +
            children.map((c) => c.output()).join(''),
        },
      );
    } finally {
      for (const c of children)
        if (c.child.exitCode === null && c.child.signalCode === null) c.child.kill('SIGTERM');
      await Promise.all(children.map((c) => c.exited));
    }

    // Handled MAX_DELIVERIES times, each one killing its process; the next delivery dead-letters it unhandled.
    expect(deaths).toBe(MAX_DELIVERIES);
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
});
