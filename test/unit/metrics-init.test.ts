import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { startDependencyMonitor } from '../../src/consumers/dependency-monitor.ts';
import {
  createRegistry,
  createWorkerMetrics,
  END_TO_END_BUCKETS,
  initWorkerSeries,
  MESSAGE_OUTCOMES,
  POSTGRES_ERROR_CLASSES,
  REDIS_ERROR_KINDS,
} from '../../src/lib/metrics.ts';

const labels = { stream: 'payments', group: 'ledger', pipeline: 'payments' };

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(p);
    return p.endsWith('.ts') ? [p] : [];
  });
}

/** Label values the worker code passes literally: `kind: 'read'`, `redisStep('ack', ...)`, `outcome: ...`. */
function literalLabelValues(label: 'kind' | 'class' | 'outcome'): Set<string> {
  const found = new Set<string>();
  for (const file of [...sourceFiles('src/consumers'), 'src/cli/worker.ts']) {
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(new RegExp(`\\b${label}: '([a-z_]+)'`, 'g'))) found.add(m[1] as string);
    if (label === 'kind') for (const m of text.matchAll(/redisStep\('([a-z_]+)'/g)) found.add(m[1] as string);
  }
  return found;
}

describe('initWorkerSeries', () => {
  it('exposes every labelled series the worker can emit, at 0, before anything happened', async () => {
    const registry = createRegistry({ defaultMetrics: false });
    const metrics = createWorkerMetrics(registry);
    initWorkerSeries(metrics, labels);
    const text = await registry.metrics();
    const sel = 'stream="payments",group="ledger"';
    for (const outcome of MESSAGE_OUTCOMES)
      expect(text).toContain(`streamsink_messages_total{${sel},pipeline="payments",outcome="${outcome}"} 0`);
    for (const kind of REDIS_ERROR_KINDS)
      expect(text).toContain(`streamsink_redis_errors_total{kind="${kind}"} 0`);
    for (const cls of POSTGRES_ERROR_CLASSES)
      expect(text).toContain(`streamsink_postgres_errors_total{class="${cls}"} 0`);
    for (const name of ['claimed', 'claimed_deleted', 'group_recreated'])
      expect(text).toContain(`streamsink_${name}_total{${sel}} 0`);
    for (const name of ['batch_duration_seconds', 'batch_size', 'end_to_end_latency_seconds'])
      expect(text).toContain(`streamsink_${name}_count{${sel},pipeline="payments"} 0`);
  });

  it('knows every label value the worker code emits', () => {
    expect(
      [...literalLabelValues('kind')].filter((k) => !(REDIS_ERROR_KINDS as readonly string[]).includes(k)),
    ).toEqual([]);
    expect(
      [...literalLabelValues('class')].filter((c) => !POSTGRES_ERROR_CLASSES.includes(c as never)),
    ).toEqual([]);
    expect(
      [...literalLabelValues('outcome')].filter((o) => !(MESSAGE_OUTCOMES as readonly string[]).includes(o)),
    ).toEqual([]);
    expect(literalLabelValues('kind').size).toBeGreaterThanOrEqual(6);
  });

  it('measures end-to-end latency up to a day: an outage backlog does not read as 300 s', () => {
    expect(Math.max(...END_TO_END_BUCKETS)).toBeGreaterThanOrEqual(86_400);
    expect(END_TO_END_BUCKETS).toEqual(expect.arrayContaining([600, 1800, 3600]));
  });
});

describe('dependency monitor', () => {
  const setup = (checks: Parameters<typeof startDependencyMonitor>[0]['checks'], sinkFailing = false) => {
    const registry = createRegistry({ defaultMetrics: false });
    const metrics = createWorkerMetrics(registry);
    const monitor = startDependencyMonitor({
      checks,
      sinkFailing: () => sinkFailing,
      metrics,
      labels: { stream: 'payments', group: 'ledger' },
      intervalMs: 60_000,
      timeoutMs: 50,
    });
    const up = async (dependency: string) =>
      (await metrics.dependencyUp.get()).values.find((v) => v.labels.dependency === dependency)?.value;
    return { monitor, up };
  };

  it('reports 1 for a dependency that answers and 0 for one that fails or hangs', async () => {
    const { monitor, up } = setup({
      redis: async () => 'PONG',
      postgres: () => new Promise(() => {}),
    });
    await monitor.checkNow();
    expect(await up('redis')).toBe(1);
    expect(await up('postgres')).toBe(0);
    monitor.close();
    const failing = setup({ redis: async () => Promise.reject(new Error('ECONNREFUSED')) });
    await failing.monitor.checkNow();
    expect(await failing.up('redis')).toBe(0);
    failing.monitor.close();
  });

  it('reports Postgres down while the worker batches fail, even when SELECT 1 answers', async () => {
    const { monitor, up } = setup({ postgres: async () => ({ rows: [] }) }, true);
    await monitor.checkNow();
    expect(await up('postgres')).toBe(0);
    monitor.close();
  });
});

describe('dependency monitor, a check that hangs', () => {
  it('is not sent again while it still waits', async () => {
    let calls = 0;
    const registry = createRegistry({ defaultMetrics: false });
    const monitor = startDependencyMonitor({
      checks: {
        redis: () => {
          calls += 1;
          return new Promise(() => {});
        },
      },
      sinkFailing: () => false,
      metrics: createWorkerMetrics(registry),
      labels: { stream: 'payments', group: 'ledger' },
      intervalMs: 60_000,
      timeoutMs: 20,
    });
    await monitor.checkNow();
    await monitor.checkNow();
    await monitor.checkNow();
    expect(calls).toBe(1);
    monitor.close();
  });
});
