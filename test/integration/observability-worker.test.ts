import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import {
  diffState,
  expectedState,
  generatePaymentEvents,
  readState,
  stateMatches,
} from '../helpers/payments-model.ts';
import { promtoolCheckMetrics } from '../helpers/promtool.ts';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.ts';
import { waitFor } from '../helpers/wait.ts';
import { type ChildWorker, createWorkerBench, type WorkerBench } from '../helpers/worker-harness.ts';

/**
 * A real `streamsink worker` process on real Redis and Postgres (reached through a TCP proxy the test cuts):
 * what its /metrics, /healthz and /readyz say must match what happened.
 */

const GOOD = 600;
const LIVENESS_DEADLINE_MS = 1500;

/** Parsed exposition: `name{labels}` -> value, plus a lookup by name and label subset. */
function parseScrape(text: string) {
  const samples: Array<{ name: string; labels: string; value: number }> = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$/.exec(line);
    if (m) samples.push({ name: m[1] as string, labels: m[2] ?? '', value: Number(m[3]) });
  }
  return (name: string, labels: Record<string, string> = {}): number | undefined => {
    const hit = samples.find(
      (s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels.includes(`${k}="${v}"`)),
    );
    return hit?.value;
  };
}

describe('worker observability', () => {
  let bench: WorkerBench;
  let pgProxy: TcpProxy;
  let worker: ChildWorker;
  let port: number;

  const get = async (path: string) => {
    const res = await fetch(`http://127.0.0.1:${port}${path}`);
    return { status: res.status, body: await res.text() };
  };
  const scrape = async () => parseScrape((await get('/metrics')).body);

  beforeAll(async () => {
    bench = await createWorkerBench(inject('redisUrl'), inject('databaseUrl'));
    const target = new URL(bench.schema.url);
    pgProxy = await startTcpProxy({ targetHost: target.hostname, targetPort: Number(target.port || 5432) });
    const proxied = new URL(bench.schema.url);
    proxied.hostname = pgProxy.host;
    proxied.port = String(pgProxy.port);
    worker = bench.spawnWorker('obs-1', {
      DATABASE_URL: proxied.toString(),
      LOG_LEVEL: 'info',
      STREAMSINK_DEFAULT_METRICS: 'true',
      METRICS_PORT: '0',
      METRICS_HOST: '127.0.0.1',
      STREAMSINK_METRICS_SAMPLE_INTERVAL_MS: '200',
      STREAMSINK_LIVENESS_DEADLINE_MS: String(LIVENESS_DEADLINE_MS),
      STREAMSINK_MAX_IN_FLIGHT: '300',
      STREAMSINK_BATCH_SIZE: '100',
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
  });

  afterAll(async () => {
    await bench?.cleanup();
    await pgProxy?.close();
  });

  it('counts acked and dead-lettered entries exactly, and the group gauges drain to 0', async () => {
    const events = generatePaymentEvents({ count: GOOD, seed: 51, accounts: 30, prefix: 'oba' });
    // Poison: a currency the pipeline refuses, data that fails the schema, and an entry that is not an
    // envelope at all.
    const badCurrency = { ...(events[100] as (typeof events)[number]), id: 'obs-bad-currency' };
    badCurrency.data = { ...badCurrency.data, currency: 'XYZ' };
    const badSchema = { ...(events[200] as (typeof events)[number]), id: 'obs-bad-schema' };
    badSchema.data = { ...badSchema.data, amountMinor: -5 };
    await bench.publish([...events.slice(0, 300), badCurrency, badSchema, ...events.slice(300)]);
    const garbageId = await bench.redis.xadd(bench.keys.stream, '*', 'garbage', 'not an envelope');
    const total = GOOD + 3;

    const labels = { stream: bench.streamName, group: bench.group };
    const m = await waitFor(
      async () => {
        const s = await scrape();
        const done =
          s('streamsink_messages_total', { ...labels, outcome: 'acked' }) === GOOD &&
          s('streamsink_messages_total', { ...labels, outcome: 'dead_lettered' }) === 3 &&
          s('streamsink_consumer_lag_messages', labels) === 0 &&
          s('streamsink_pending_messages', labels) === 0 &&
          s('streamsink_dead_letter_messages', { stream: bench.streamName }) === 3;
        return done ? s : undefined;
      },
      { timeoutMs: 60_000, describe: async () => (await get('/metrics')).body.slice(0, 4000) },
    );
    expect(m('streamsink_messages_total', { outcome: 'duplicate' }) ?? 0).toBe(0);
    expect(m('streamsink_stream_length_messages', { stream: bench.streamName })).toBe(total);
    expect(m('streamsink_oldest_pending_age_seconds', labels)).toBe(0);
    expect(m('streamsink_in_flight_limit', labels)).toBe(300);
    expect(m('streamsink_in_flight_messages', labels)).toBe(0);
    expect(m('streamsink_end_to_end_latency_seconds_count', labels)).toBe(GOOD);
    // Every committed batch is observed once; batches hold at most STREAMSINK_BATCH_SIZE entries.
    const batches = m('streamsink_batch_size_count', labels) ?? 0;
    expect(batches).toBeGreaterThanOrEqual(GOOD / 100);
    expect(m('streamsink_batch_size_sum', labels)).toBe(GOOD);
    expect(m('streamsink_build_info')).toBe(1);

    const diff = diffState(expectedState(events), await readState(bench.db, 'oba'));
    expect(stateMatches(diff), JSON.stringify(diff.examples)).toBe(true);

    // Log lines about dead-lettered messages carry both ids, never the payload.
    const deadLetterLogs = worker
      .output()
      .split('\n')
      .filter((l) => l.includes('"entry dead-lettered"'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(deadLetterLogs).toHaveLength(3);
    for (const l of deadLetterLogs) {
      expect(l).toMatchObject({ stream: bench.streamName, group: bench.group, consumer: 'obs-1' });
      expect(l.entryId).toMatch(/^\d+-\d+$/);
    }
    expect(deadLetterLogs.map((l) => l.eventId).sort()).toEqual(
      expect.arrayContaining(['obs-bad-currency', 'obs-bad-schema']),
    );
    expect(worker.output()).not.toContain('"accountId"');
    // Every line about a message names the consumer and both ids (only an entry that is not an envelope
    // has no event id).
    const aboutMessages = worker
      .output()
      .split('\n')
      .filter((l) => l.startsWith('{') && l.includes('"entryId"'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(aboutMessages.length).toBeGreaterThanOrEqual(3);
    for (const l of aboutMessages) {
      expect(l, JSON.stringify(l)).toMatchObject({
        stream: bench.streamName,
        group: bench.group,
        consumer: 'obs-1',
      });
      if (l.entryId !== garbageId) expect(l.eventId, JSON.stringify(l)).toEqual(expect.any(String));
    }
  });

  it('serves an exposition promtool accepts', async () => {
    const res = await get('/metrics');
    expect(res.body).toContain('process_cpu_seconds_total');
    const check = await promtoolCheckMetrics(res.body);
    expect(check.code, check.output).toBe(0);
  });

  it('stays live and turns unready while Postgres is unreachable, and recovers after', async () => {
    expect((await get('/healthz')).status).toBe(200);
    expect((await get('/readyz')).status).toBe(200);

    pgProxy.cut();
    const more = generatePaymentEvents({ count: 200, seed: 52, accounts: 10, prefix: 'obb' });
    await bench.publish(more);
    const down = await waitFor(
      async () => {
        const r = await get('/readyz');
        return r.status === 503 ? r : undefined;
      },
      { timeoutMs: 15_000 },
    );
    expect(JSON.parse(down.body)).toMatchObject({ status: 'not_ready', failing: ['postgres'] });
    // The sink fails and the worker pauses; liveness must hold well past its deadline.
    await waitFor(async () => JSON.parse((await get('/healthz')).body).sinkFailing === true, {
      timeoutMs: 15_000,
    });
    const outageStarted = Date.now();
    while (Date.now() - outageStarted < LIVENESS_DEADLINE_MS * 2) {
      const h = await get('/healthz');
      expect(h.status, h.body).toBe(200);
      await new Promise((r) => setTimeout(r, 100));
    }
    const during = await scrape();
    expect(during('streamsink_postgres_errors_total', { class: 'transient' }) ?? 0).toBeGreaterThan(0);
    expect(during('streamsink_backpressure_paused', { stream: bench.streamName })).toBe(1);

    pgProxy.restore();
    await waitFor(async () => (await get('/readyz')).status === 200, { timeoutMs: 20_000 });
    const labels = { stream: bench.streamName, group: bench.group };
    const recovered = await waitFor(
      async () => {
        const s = await scrape();
        return s('streamsink_messages_total', { ...labels, outcome: 'acked' }) === GOOD + 200 &&
          s('streamsink_pending_messages', labels) === 0 &&
          s('streamsink_consumer_lag_messages', labels) === 0
          ? s
          : undefined;
      },
      { timeoutMs: 60_000, describe: async () => (await get('/metrics')).body.slice(0, 4000) },
    );
    // The outage turned no good event into a dead letter.
    expect(recovered('streamsink_messages_total', { ...labels, outcome: 'dead_lettered' })).toBe(3);
    expect(recovered('streamsink_dead_letter_messages', { stream: bench.streamName })).toBe(3);
    expect((await get('/healthz')).status).toBe(200);
  });

  it('exits 0 on SIGTERM and stops serving', async () => {
    worker.child.kill('SIGTERM');
    const exit = await worker.exited;
    expect(exit).toEqual({ code: 0, signal: null });
    await expect(fetch(`http://127.0.0.1:${port}/healthz`)).rejects.toThrow();
  });
});

describe('worker liveness through a Redis outage', () => {
  let bench: WorkerBench;
  let redisProxy: TcpProxy;
  let worker: ChildWorker;
  let port: number;
  const get = async (path: string) => {
    const res = await fetch(`http://127.0.0.1:${port}${path}`);
    return { status: res.status, body: await res.text() };
  };

  beforeAll(async () => {
    bench = await createWorkerBench(inject('redisUrl'), inject('databaseUrl'));
    const target = new URL(bench.redisUrl);
    redisProxy = await startTcpProxy({
      targetHost: target.hostname,
      targetPort: Number(target.port || 6379),
    });
    worker = bench.spawnWorker('obs-redis', {
      REDIS_URL: `redis://${redisProxy.host}:${redisProxy.port}`,
      LOG_LEVEL: 'info',
      METRICS_PORT: '0',
      METRICS_HOST: '127.0.0.1',
      STREAMSINK_METRICS_SAMPLE_INTERVAL_MS: '200',
      STREAMSINK_LIVENESS_DEADLINE_MS: String(LIVENESS_DEADLINE_MS),
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
  });

  afterAll(async () => {
    await bench?.cleanup();
    await redisProxy?.close();
  });

  it('stays live and turns unready while Redis is unreachable, then processes what was published meanwhile', async () => {
    await waitFor(async () => (await get('/readyz')).status === 200, { timeoutMs: 15_000 });
    redisProxy.cut();
    const down = await waitFor(
      async () => {
        const r = await get('/readyz');
        return r.status === 503 ? r : undefined;
      },
      { timeoutMs: 15_000 },
    );
    expect(JSON.parse(down.body).failing).toEqual(['redis']);
    // Events published straight to Redis while the worker cannot reach it.
    const events = generatePaymentEvents({ count: 100, seed: 53, accounts: 10, prefix: 'obc' });
    await bench.publish(events);
    const started = Date.now();
    while (Date.now() - started < LIVENESS_DEADLINE_MS * 2) {
      const h = await get('/healthz');
      expect(h.status, h.body).toBe(200);
      await new Promise((r) => setTimeout(r, 100));
    }
    const h = JSON.parse((await get('/healthz')).body);
    expect(h.waitingOnRedis).toBe(true);

    redisProxy.restore();
    await waitFor(async () => (await get('/readyz')).status === 200, { timeoutMs: 20_000 });
    await waitFor(
      async () => {
        const m = parseScrape((await get('/metrics')).body);
        const labels = { stream: bench.streamName, group: bench.group };
        return (
          m('streamsink_messages_total', { ...labels, outcome: 'acked' }) === 100 &&
          m('streamsink_pending_messages', labels) === 0 &&
          m('streamsink_consumer_lag_messages', labels) === 0
        );
      },
      { timeoutMs: 30_000, describe: async () => (await get('/metrics')).body.slice(0, 3000) },
    );
    const m = parseScrape((await get('/metrics')).body);
    expect(m('streamsink_redis_errors_total', { kind: 'stats' }) ?? 0).toBeGreaterThan(0);
    expect((await get('/healthz')).status).toBe(200);
  });
});
