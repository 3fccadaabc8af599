import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { encodeEnvelope } from '../../src/lib/envelope.ts';
import { generatePaymentEvents } from '../helpers/payments-model.ts';
import { type OwnPrometheus, startOwnPrometheus } from '../helpers/prometheus.ts';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.ts';
import { waitFor } from '../helpers/wait.ts';
import { type ChildWorker, createWorkerBench, type WorkerBench } from '../helpers/worker-harness.ts';

/**
 * A real Prometheus scraping a real `streamsink worker` process every second, with the SHIPPED rules file
 * (ops/prometheus/alerts.yml) loaded unchanged. What an operator would see is asked of Prometheus itself:
 * the ALERTS series and the dashboard's own queries, through the HTTP API.
 *
 * Alerts without `for:` (dead letters, group recreated) must reach state `firing` within seconds. Alerts with
 * `for:` (dependency down: 3 minutes) are checked to be `pending`, which proves the expression matches what
 * the worker exposes; when they turn to firing is a matter of `for:` alone, tested to the minute by promtool
 * (ops/prometheus/alerts.test.yml). This keeps the test under a minute without editing the shipped rules.
 */

const DASHBOARD = 'ops/grafana/streamsink-dashboard.json';
const AN_OUTAGE_AGO_MS = 20 * 60 * 1000;

describe('a live worker scraped by Prometheus with the shipped rules', () => {
  let bench: WorkerBench;
  let pgProxy: TcpProxy;
  let worker: ChildWorker;
  let prometheus: OwnPrometheus;
  let sel: string;

  const scalar = async (expr: string): Promise<number | undefined> => {
    const r = await prometheus.query(expr);
    return r[0] ? Number(r[0].value[1]) : undefined;
  };
  const alert = async (name: string, state: 'pending' | 'firing') =>
    prometheus.query(`ALERTS{alertname="${name}", alertstate="${state}", stream="${bench.streamName}"}`);
  const seen = async () =>
    `prometheus ALERTS: ${JSON.stringify(await prometheus.query('ALERTS'))}\nworker: ${worker.output().slice(-1500)}`;

  beforeAll(async () => {
    bench = await createWorkerBench(inject('redisUrl'), inject('databaseUrl'));
    sel = `stream="${bench.streamName}", group="${bench.group}"`;
    const target = new URL(bench.schema.url);
    pgProxy = await startTcpProxy({ targetHost: target.hostname, targetPort: Number(target.port || 5432) });
    const proxied = new URL(bench.schema.url);
    proxied.hostname = pgProxy.host;
    proxied.port = String(pgProxy.port);

    // One good event whose stream entry was added 20 minutes ago (its id time), as after an outage.
    const [late] = generatePaymentEvents({ count: 1, seed: 71, accounts: 1, prefix: 'prl' });
    const lateId = `${Date.now() - AN_OUTAGE_AGO_MS}-0`;
    await bench.redis.xadd(bench.keys.stream, lateId, ...encodeEnvelope(late as NonNullable<typeof late>));

    worker = bench.spawnWorker('prom-1', {
      DATABASE_URL: proxied.toString(),
      LOG_LEVEL: 'info',
      METRICS_PORT: '0',
      METRICS_HOST: '127.0.0.1',
      STREAMSINK_DEFAULT_METRICS: 'true',
      STREAMSINK_METRICS_SAMPLE_INTERVAL_MS: '300',
    });
    const port = await waitFor(
      () => {
        const line = worker
          .output()
          .split('\n')
          .find((l) => l.includes('"ops server listening"'));
        return line ? (JSON.parse(line).port as number) : undefined;
      },
      { timeoutMs: 30_000, describe: () => worker.output().slice(-2000) },
    );
    prometheus = await startOwnPrometheus({
      targets: [`127.0.0.1:${port}`],
      ruleFiles: ['ops/prometheus/alerts.yml'],
      interval: '1s',
    });
  });

  afterAll(async () => {
    await prometheus?.close();
    await bench?.cleanup();
    await pgProxy?.close();
  });

  it('sees the end-to-end latency of a 20-minute-old entry as 20 minutes, not 300 s', async () => {
    await waitFor(async () => (await scalar(`streamsink_messages_total{${sel}, outcome="acked"}`)) === 1, {
      timeoutMs: 30_000,
      describe: seen,
    });
    // Cumulative buckets (no rate): the one observation so far is the late entry's.
    const p50 = await scalar(
      `histogram_quantile(0.5, sum by (le) (streamsink_end_to_end_latency_seconds_bucket{${sel}}))`,
    );
    expect(p50).toBeGreaterThan(900);
    expect(p50).toBeLessThan(1800);
  });

  it('fires StreamsinkDeadLettersIncreasing on the first dead letter', async () => {
    // The worker has been scraped for a while with no dead letter: the alert is silent.
    await waitFor(async () => ((await scalar(`count_over_time(up{job="streamsink"}[1m])`)) ?? 0) >= 3, {
      timeoutMs: 20_000,
    });
    expect(await alert('StreamsinkDeadLettersIncreasing', 'firing')).toEqual([]);

    const events = generatePaymentEvents({ count: 20, seed: 72, accounts: 5, prefix: 'prd' });
    const poison = { ...(events[5] as (typeof events)[number]), id: 'prom-live-bad-currency' };
    poison.data = { ...poison.data, currency: 'XYZ' };
    await bench.publish([...events, poison]);
    await waitFor(
      async () => (await scalar(`streamsink_messages_total{${sel}, outcome="dead_lettered"}`)) === 1,
      { timeoutMs: 30_000, describe: seen },
    );
    // The rule is evaluated every second: a few evaluations after the scrape that saw it, it fires.
    const firing = await waitFor(async () => (await alert('StreamsinkDeadLettersIncreasing', 'firing'))[0], {
      timeoutMs: 10_000,
      describe: async () =>
        `increase() = ${JSON.stringify(
          await prometheus.query(`increase(streamsink_messages_total{${sel}, outcome="dead_lettered"}[15m])`),
        )}; ${await seen()}`,
    });
    expect(firing.metric).toMatchObject({ group: bench.group, severity: 'ticket' });
  });

  it('shows data in every dashboard panel', async () => {
    const dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as {
      panels: Array<{ title: string; description?: string; targets?: Array<{ expr: string }> }>;
    };
    const empty: string[] = [];
    for (const panel of dashboard.panels) {
      if (!panel.targets) continue; // rows
      // Calls to other services exist only for a pipeline with enrich; the payments pipeline has none.
      if (panel.description?.includes('(only with enrich)')) continue;
      let series = 0;
      for (const t of panel.targets) {
        const expr = t.expr
          .replaceAll('$stream', bench.streamName)
          .replaceAll('$group', bench.group)
          // Grafana's rate interval; 5m covers the whole test, so histograms have their observations.
          .replaceAll('$__rate_interval', '5m');
        series += (await prometheus.query(expr)).length;
      }
      if (series === 0) empty.push(panel.title);
    }
    expect(empty).toEqual([]);
  });

  it('pages StreamsinkGroupRecreated when the group vanishes', async () => {
    expect(await alert('StreamsinkGroupRecreated', 'firing')).toEqual([]);
    await bench.redis.xgroup('DESTROY', bench.keys.stream, bench.group);
    const firing = await waitFor(async () => (await alert('StreamsinkGroupRecreated', 'firing'))[0], {
      timeoutMs: 30_000,
      describe: seen,
    });
    expect(firing.metric).toMatchObject({ group: bench.group, severity: 'page' });
  });

  it('reports Postgres down and puts StreamsinkDependencyDown in pending, and back up after', async () => {
    const up = `streamsink_dependency_up{${sel}, dependency="postgres"}`;
    await waitFor(async () => (await scalar(up)) === 1, { timeoutMs: 20_000, describe: seen });
    pgProxy.cut();
    try {
      await waitFor(async () => (await scalar(up)) === 0, { timeoutMs: 20_000, describe: seen });
      const pending = await waitFor(async () => (await alert('StreamsinkDependencyDown', 'pending'))[0], {
        timeoutMs: 10_000,
        describe: seen,
      });
      expect(pending.metric).toMatchObject({ dependency: 'postgres', severity: 'page' });
      expect(await scalar(`streamsink_dependency_up{${sel}, dependency="redis"}`)).toBe(1);
      // While nothing commits, the backlog's age shows in the oldest pending age (the latency histogram
      // only learns it when the entries are applied).
      await bench.publish(generatePaymentEvents({ count: 5, seed: 73, accounts: 2, prefix: 'pro' }));
      await waitFor(
        async () => ((await scalar(`max(streamsink_oldest_pending_age_seconds{${sel}})`)) ?? 0) >= 3,
        { timeoutMs: 20_000, describe: seen },
      );
    } finally {
      pgProxy.restore();
    }
    await waitFor(async () => (await scalar(up)) === 1, { timeoutMs: 30_000, describe: seen });
    await waitFor(async () => (await scalar(`max(streamsink_pending_messages{${sel}})`)) === 0, {
      timeoutMs: 30_000,
      describe: seen,
    });
    await waitFor(async () => (await alert('StreamsinkDependencyDown', 'pending')).length === 0, {
      timeoutMs: 10_000,
      describe: seen,
    });
  });
});
