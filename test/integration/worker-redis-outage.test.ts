import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import {
  diffState,
  expectedState,
  generatePaymentEvents,
  readState,
  stateMatches,
} from '../helpers/payments-model.ts';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.ts';
import { waitFor } from '../helpers/wait.ts';
import { createWorkerBench, type WorkerBench } from '../helpers/worker-harness.ts';

/** The worker's Redis connections go through a proxy that cuts them mid-run (a partition or a restart). */
describe('Redis connection loss', () => {
  let bench: WorkerBench;
  let proxy: TcpProxy;
  beforeAll(async () => {
    bench = await createWorkerBench(inject('redisUrl'), inject('databaseUrl'));
    const target = new URL(inject('redisUrl'));
    proxy = await startTcpProxy({ targetHost: target.hostname, targetPort: Number(target.port || 6379) });
  });
  afterAll(async () => {
    await bench?.cleanup();
    await proxy?.close();
  });

  async function processed(): Promise<number> {
    const { rows } = await bench.db.query('SELECT count(*)::int AS n FROM streamsink_inbox');
    return rows[0].n;
  }

  it('connections cut for 3 s mid-run: the worker reconnects, acknowledges what it committed, loses nothing', async () => {
    const events = generatePaymentEvents({ count: 30_000, seed: 71, accounts: 300, prefix: 'rdo' });
    await bench.publish(events.slice(0, 20_000));
    const url = new URL(inject('redisUrl'));
    url.host = `${proxy.host}:${proxy.port}`;
    const w = await bench.startWorker({ consumer: 'cut', redisUrl: url.toString() });
    await waitFor(async () => (await processed()) >= 2000, { timeoutMs: 20_000, intervalMs: 10 });

    proxy.cut();
    const cutAt = Date.now();
    await bench.publish(events.slice(20_000)); // producers are not cut off
    await waitFor(() => Date.now() - cutAt >= 3000, { timeoutMs: 5000, intervalMs: 100 });
    const duringCut = await processed();
    expect(duringCut).toBeLessThan(events.length); // the cut happened with work left
    proxy.restore();

    await waitFor(async () => (await processed()) === events.length && (await bench.pendingCount()) === 0, {
      timeoutMs: 40_000,
      describe: async () => `processed ${await processed()}, pending ${await bench.pendingCount()}`,
    });
    await w.close();
    expect(await bench.redis.xlen(bench.keys.deadLetter)).toBe(0);
    const diff = diffState(expectedState(events), await readState(bench.db, 'rdo'));
    expect(diff.examples).toEqual([]);
    expect(stateMatches(diff)).toBe(true);
  });
  it('close() while Redis is unreachable does not wait out the shutdown timeout', async () => {
    const url = new URL(inject('redisUrl'));
    url.host = `${proxy.host}:${proxy.port}`;
    // Default shutdown timeout: 25 s.
    const w = await bench.startWorker({ consumer: 'cut-idle', redisUrl: url.toString() });
    proxy.cut();
    try {
      let closed = false;
      void w.worker.close().then(() => {
        closed = true;
      });
      // Nothing in flight: only the blocked read is waited for, and only about blockMs.
      await waitFor(() => closed, { timeoutMs: 5000 });
    } finally {
      proxy.restore();
    }
    await w.close();
  });
});
