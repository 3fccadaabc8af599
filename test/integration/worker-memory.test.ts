import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { decodeDeadLetter } from '../../src/lib/dead-letter-entry.ts';
import { type Envelope, encodeEnvelope } from '../../src/lib/envelope.ts';
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
 * Memory bounded by bytes (docs/operations.md#memory), under a real limit: a `streamsink worker` process with a
 * 128 MiB V8 heap, its RSS sampled from /proc, fed entries that used to crash-loop a worker (hundreds of ~1 MiB
 * events and a few raw 30 MB entries) mixed with good events.
 */

const MiB = 1024 * 1024;

/** Resident set size of a process in bytes, from /proc/<pid>/status; undefined once it is gone. */
function rssOf(pid: number): number | undefined {
  try {
    const m = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** Source id -> reason of every dead-letter entry, read a few at a time (they are large). */
async function deadLetterReasons(bench: WorkerBench): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  let start = '-';
  for (;;) {
    const page = await bench.redis.xrange(bench.keys.deadLetter, start, '+', 'COUNT', 8);
    for (const [, fields] of page) {
      const decoded = decodeDeadLetter(fields);
      if (!decoded.ok) throw new Error(decoded.message);
      out.set(decoded.value.meta.sourceId, decoded.value.meta.reason);
    }
    if (page.length < 8) return out;
    start = `(${page[page.length - 1]?.[0]}`;
  }
}

describe('memory bounded by bytes', () => {
  let bench: WorkerBench;
  beforeAll(async () => {
    bench = await createWorkerBench(inject('redisUrl'), inject('databaseUrl'));
  });
  afterAll(async () => {
    await bench?.cleanup();
  });

  it('a worker with a 128 MiB heap survives 400 ~1 MiB events and three 30 MB entries; good events apply once', async () => {
    const prefix = 'mem';
    const good = generatePaymentEvents({ count: 300, seed: 77, accounts: 12, prefix });
    const pad = 'p'.repeat(1_000_000);
    // SDK-valid-looking (the fields pass, only the undeclared `pad` is wrong) and just under the 1 MiB limit.
    const big: Envelope<unknown>[] = Array.from({ length: 400 }, (_, i) => ({
      id: `${prefix}-big-${i}`,
      type: 'payment.captured',
      v: 1,
      key: `${prefix}-bigpay-${i}`,
      ts: '2026-11-21T10:00:00.000Z',
      data: {
        paymentId: `${prefix}-bigpay-${i}`,
        accountId: `${prefix}-a0`,
        amountMinor: 1,
        currency: 'EUR',
        pad,
      },
    }));
    const bigIds = new Set<string>();
    const rawIds = new Set<string>();
    const goodIds = new Set<string>();
    const huge = `{"paymentId":"x","pad":"${'h'.repeat(30_000_000)}"}`;
    // Interleaved: the good events sit between the large ones, so every read meets both.
    for (let i = 0; i < 100; i++) {
      for (const id of await bench.publish(big.slice(i * 4, i * 4 + 4), 4)) bigIds.add(id);
      for (const id of await bench.publish(good.slice(i * 3, i * 3 + 3))) goodIds.add(id);
      if (i % 33 === 10) {
        const fields = encodeEnvelope({
          ...(big[0] as Envelope<unknown>),
          id: `${prefix}-raw-${i}`,
          data: {},
        });
        fields[fields.indexOf('data') + 1] = huge;
        rawIds.add(String(await bench.redis.xadd(bench.keys.stream, '*', ...fields)));
      }
    }
    expect(rawIds.size).toBe(3);

    const worker = bench.spawnWorker('mem', { NODE_OPTIONS: '--max-old-space-size=128' });
    const pid = worker.child.pid as number;
    let peakRss = 0;
    const watchdog = setInterval(() => {
      peakRss = Math.max(peakRss, rssOf(pid) ?? 0);
    }, 25);
    try {
      const done = waitFor(
        async () =>
          (await bench.pendingCount()) === 0 &&
          (await bench.redis.xlen(bench.keys.deadLetter)) === bigIds.size + rawIds.size &&
          stateMatches(diffState(expectedState(good), await readState(bench.db, prefix))),
        { timeoutMs: 180_000, intervalMs: 200 },
      );
      const crashed = worker.exited.then(({ code, signal }) => {
        throw new Error(`worker exited (code ${code}, signal ${signal}):\n${worker.output().slice(-2000)}`);
      });
      await Promise.race([done, crashed]);
    } finally {
      clearInterval(watchdog);
    }
    expect(worker.child.exitCode).toBeNull();
    expect(worker.child.signalCode).toBeNull();
    expect(worker.output()).not.toMatch(/heap out of memory/i);
    console.log(`worker peak RSS ${(peakRss / MiB).toFixed(0)} MiB`);
    // 128 MiB of heap, the default 32 MiB in-flight budget and node's own baseline; far below 400 x 1 MiB.
    expect(peakRss).toBeGreaterThan(0);
    expect(peakRss).toBeLessThan(320 * MiB);

    const reasons = await deadLetterReasons(bench);
    for (const id of rawIds) expect(reasons.get(id), `raw 30 MB entry ${id}`).toBe('oversize');
    for (const id of bigIds) expect(reasons.get(id), `~1 MiB event ${id}`).toBe('schema_violation');
    for (const id of goodIds) expect(reasons.has(id), `good event ${id}`).toBe(false);
    const diff = diffState(expectedState(good), await readState(bench.db, prefix));
    expect(diff.examples).toEqual([]);
    expect(stateMatches(diff)).toBe(true);
  }, 300_000);
});

describe('invalid UTF-8', () => {
  let bench: WorkerBench;
  beforeAll(async () => {
    bench = await createWorkerBench(inject('redisUrl'), inject('databaseUrl'), {
      STREAMSINK_PIPELINE: 'event-log',
    });
  });
  afterAll(async () => {
    await bench?.cleanup();
  });

  it('an entry with bytes 0xff 0xfe in data is dead-lettered as invalid_utf8 with its bytes; a real U+FFFD applies', async () => {
    const base = { type: 'thing.happened', v: 1, key: 'k', ts: '2026-11-21T10:00:00.000Z' };
    const [goodId] = await bench.publish([
      { ...base, id: 'utf8-good', data: { note: 'a real \uFFFD here' } },
    ]);
    const badData = Buffer.concat([Buffer.from('{"note":"'), Buffer.from([0xff, 0xfe]), Buffer.from('"}')]);
    const fields: Array<string | Buffer> = encodeEnvelope({ ...base, id: 'utf8-bad', data: {} });
    fields[fields.indexOf('data') + 1] = badData;
    const badId = String(await bench.redis.xadd(bench.keys.stream, '*', ...fields));
    const w = await bench.startWorker();
    await waitFor(
      async () => (await bench.pendingCount()) === 0 && (await bench.redis.xlen(bench.keys.deadLetter)) === 1,
      { timeoutMs: 20_000 },
    );
    await w.close();

    const [dead] = await bench.redis.xrangeBuffer(bench.keys.deadLetter, '-', '+');
    const items = (dead?.[1] ?? []).map((b) => b.toString('latin1'));
    const at = (name: string) => items[items.indexOf(name) + 1];
    expect(at('dlq.reason')).toBe('invalid_utf8');
    expect(at('dlq.source_id')).toBe(badId);
    expect(at('dlq.event_id')).toBe('utf8-bad');
    // The original's bytes, not U+FFFD: the data value is the second `data` item after the header.
    const original = (dead?.[1] ?? []).slice(items.indexOf('dlq.original_fields') + 2);
    const dataAt = original.findIndex((b) => b.toString('latin1') === 'data');
    expect(original[dataAt + 1]?.equals(badData)).toBe(true);

    const { rows } = await bench.db.query('SELECT event_id, entry_id, payload->>$1 AS note FROM event_log', [
      'note',
    ]);
    expect(rows).toEqual([{ event_id: 'utf8-good', entry_id: goodId, note: 'a real \uFFFD here' }]);
  });
});
