import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { runCli } from '../helpers/cli-run.ts';
import { generatePaymentEvents } from '../helpers/payments-model.ts';
import { waitFor } from '../helpers/wait.ts';
import { type ChildWorker, createWorkerBench, type WorkerBench } from '../helpers/worker-harness.ts';

/**
 * The worker's periodic safe trim (STREAMSINK_TRIM_INTERVAL_MS), through `streamsink worker` itself: a group
 * that never reads pins the stream and shows in streamsink_stream_trim_floor_age_seconds; once it is gone the
 * worker trims what was acknowledged and counts it. And the MAXLEN warning at start.
 */

function metric(text: string, name: string, labels: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && l.includes(labels));
  return line === undefined ? undefined : Number(line.split(' ').pop());
}

describe('worker trims on an interval', () => {
  let bench: WorkerBench;
  let worker: ChildWorker;
  let port: number;
  beforeAll(async () => {
    bench = await createWorkerBench(inject('redisUrl'), inject('databaseUrl'));
  });
  afterAll(async () => {
    await bench.cleanup();
  });

  it('pins while a group has read nothing, then trims exactly what was acknowledged', async () => {
    const events = generatePaymentEvents({ count: 200, seed: 151, accounts: 10, prefix: 'itr' });
    await bench.publish(events);
    await bench.redis.xgroup('CREATE', bench.keys.stream, 'idle', '0');
    worker = bench.spawnWorker('trimmer', {
      LOG_LEVEL: 'info',
      METRICS_PORT: '0',
      METRICS_HOST: '127.0.0.1',
      STREAMSINK_TRIM_INTERVAL_MS: '1000',
      STREAMSINK_TRIM_KEEP: '0s',
      STREAMSINK_MAXLEN: '1000000',
    });
    port = await waitFor(
      () => {
        const line = worker
          .output()
          .split('\n')
          .find((l) => l.includes('"ops server listening"'));
        return line ? (JSON.parse(line).port as number) : undefined;
      },
      { timeoutMs: 30_000, describe: () => worker.output().slice(-2000) },
    );
    expect(worker.output()).toContain('STREAMSINK_MAXLEN=1000000 trims the stream on every publish');
    const scrape = async () => (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    const idle = `stream="${bench.streamName}",group="idle"`;

    // Everything processed, yet the idle group keeps every entry, and the gauge says so.
    await waitFor(
      async () => {
        const { rows } = await bench.db.query('SELECT count(*)::int AS n FROM streamsink_inbox');
        return rows[0].n === events.length && (await bench.pendingCount()) === 0;
      },
      { timeoutMs: 60_000, intervalMs: 100 },
    );
    await waitFor(
      async () => (metric(await scrape(), 'streamsink_stream_trim_floor_age_seconds', idle) ?? 0) > 0,
      { timeoutMs: 30_000, intervalMs: 200 },
    );
    const pinned = await scrape();
    expect(metric(pinned, 'streamsink_stream_trim_keep_seconds', `stream="${bench.streamName}"`)).toBe(0);
    expect(metric(pinned, 'streamsink_stream_trimmed_entries_total', `stream="${bench.streamName}"`)).toBe(0);
    expect(await bench.redis.xlen(bench.keys.stream)).toBe(events.length);

    await bench.redis.xgroup('DESTROY', bench.keys.stream, 'idle');
    await waitFor(async () => (await bench.redis.xlen(bench.keys.stream)) === 0, {
      timeoutMs: 30_000,
      intervalMs: 100,
    });
    const after = await waitFor(
      async () => {
        const text = await scrape();
        return metric(text, 'streamsink_stream_trimmed_entries_total', `stream="${bench.streamName}"`) ===
          events.length
          ? text
          : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 200 },
    );
    expect(metric(after, 'streamsink_stream_trim_floor_age_seconds', idle)).toBeUndefined();
    expect(
      metric(
        after,
        'streamsink_stream_trim_floor_age_seconds',
        `stream="${bench.streamName}",group="${bench.group}"`,
      ),
    ).toBe(0);
    worker.child.kill('SIGTERM');
    expect((await worker.exited).code).toBe(0);
  });

  it('publish warns that MAXLEN is lossy', async () => {
    const r = await runCli(['publish', '--stream', bench.streamName], {
      ...bench.env,
      STREAMSINK_MAXLEN: '500',
    });
    expect(r.stderr).toContain('warning: STREAMSINK_MAXLEN=500 trims the stream on every publish');
  });
});
