import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { createPartitionMetrics } from '../../src/consumers/partitions/metrics.ts';
import {
  createProducerMetrics,
  createRegistry,
  createWorkerMetrics,
  registerBuildInfo,
} from '../../src/lib/metrics.ts';
import { createRetentionMetrics } from '../../src/lib/retention-metrics.ts';

/**
 * The dashboard, the alert rules and docs/metrics.md name metrics by string; a rename in metrics.ts must
 * break this test, not a dashboard at 3 a.m.
 */
const registry = createRegistry({ defaultMetrics: true });
createWorkerMetrics(registry);
createPartitionMetrics(registry);
createProducerMetrics(registry);
createRetentionMetrics(registry);
registerBuildInfo(registry, { version: 'test' });
const metrics = registry.getMetricsAsArray() as unknown as Array<{ name: string; type: string }>;
const known = new Set<string>();
for (const m of metrics) {
  known.add(m.name);
  if (m.type === 'histogram') for (const s of ['_bucket', '_sum', '_count']) known.add(`${m.name}${s}`);
}
// Series Prometheus itself adds to every target.
for (const name of ['up', 'scrape_duration_seconds']) known.add(name);

const PROMQL_FUNCTIONS = new Set([
  'sum',
  'max',
  'min',
  'avg',
  'count',
  'rate',
  'increase',
  'delta',
  'deriv',
  'histogram_quantile',
  'time',
  'by',
  'without',
  'on',
  'and',
  'or',
  'unless',
  'label_values',
  'absent',
  'group_left',
]);

/** Metric names referenced by a PromQL expression: identifiers not called as functions, not keywords. */
function metricNames(expr: string): string[] {
  const stripped = expr
    .replace(/"[^"]*"/g, '""')
    .replace(/\{[^}]*\}/g, '{}')
    .replace(/\[[^\]]*\]/g, '[]')
    .replace(/\b(by|without|on|ignoring)\s*\([^)]*\)/g, '')
    // label_values(metric, label): the label is not a metric
    .replace(/(label_values\([^,]*),\s*\w+\)/g, '$1)');
  const names: string[] = [];
  for (const m of stripped.matchAll(/([a-zA-Z_:][a-zA-Z0-9_:]*)(\s*\()?/g)) {
    const [, name, call] = m;
    if (name && !call && !PROMQL_FUNCTIONS.has(name)) names.push(name);
  }
  return names;
}

const rules = parse(readFileSync('ops/prometheus/alerts.yml', 'utf8')) as {
  groups: Array<{ rules: Array<{ alert: string; expr: string; labels: { severity: string } }> }>;
};
const all = rules.groups.flatMap((g) => g.rules);

interface Panel {
  id: number;
  type: string;
  title: string;
  gridPos: { x: number; y: number; w: number; h: number };
  targets?: Array<{ expr: string }>;
}

describe('metricNames', () => {
  it('finds metric names and skips functions, labels and grouping clauses', () => {
    expect(
      metricNames('histogram_quantile(0.99, sum by (le) (rate(foo_bucket{a="b", c=~"x"}[5m]))) / bar'),
    ).toEqual(['foo_bucket', 'bar']);
    expect(metricNames('label_values(baz{stream=~"$stream"}, group)')).toEqual(['baz']);
  });
});

describe('Grafana dashboard', () => {
  const dashboard = JSON.parse(readFileSync('ops/grafana/streamsink-dashboard.json', 'utf8')) as {
    uid: string;
    panels: Panel[];
    templating: { list: Array<{ name: string; query: unknown; definition?: string }> };
  };
  const exprs = dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr));

  it('references only metrics streamsink exports', () => {
    const used = new Set(exprs.flatMap(metricNames));
    for (const v of dashboard.templating.list)
      if (v.definition) for (const n of metricNames(v.definition)) used.add(n);
    expect([...used].filter((n) => !known.has(n))).toEqual([]);
    expect(used.size).toBeGreaterThan(10);
  });

  it('shows what an operator needs first', () => {
    const used = new Set(exprs.flatMap(metricNames));
    for (const name of [
      'streamsink_messages_total',
      'streamsink_consumer_lag_messages',
      'streamsink_pending_messages',
      'streamsink_oldest_pending_age_seconds',
      'streamsink_dead_letter_messages',
      'streamsink_batch_duration_seconds_bucket',
      'streamsink_end_to_end_latency_seconds_bucket',
      'streamsink_in_flight_messages',
      'streamsink_in_flight_limit',
      'streamsink_redis_errors_total',
      'streamsink_postgres_errors_total',
    ])
      expect(used, name).toContain(name);
  });

  it('aggregates group-level gauges with max, never sum', () => {
    for (const e of exprs)
      expect(e).not.toMatch(/sum[^(]*\([^()]*streamsink_(consumer_lag|pending|oldest_pending|dead_letter)/);
  });

  it('has unique panel ids and panels that fit the 24-column grid', () => {
    const ids = dashboard.panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const p of dashboard.panels) expect(p.gridPos.x + p.gridPos.w, p.title).toBeLessThanOrEqual(24);
  });
});

describe('Prometheus alert rules', () => {
  it('reference only metrics streamsink exports', () => {
    const unknown = all.flatMap((r) =>
      metricNames(r.expr)
        .filter((n) => !known.has(n))
        .map((n) => `${r.alert}: ${n}`),
    );
    expect(unknown).toEqual([]);
  });

  it('each have a severity and a test in alerts.test.yml', () => {
    const tests = readFileSync('ops/prometheus/alerts.test.yml', 'utf8');
    for (const r of all) {
      expect(['page', 'ticket'], r.alert).toContain(r.labels.severity);
      expect(tests, r.alert).toContain(`alertname: ${r.alert}`);
    }
  });
});

describe('docs/metrics.md', () => {
  const doc = readFileSync('docs/metrics.md', 'utf8');
  it('documents every streamsink metric', () => {
    const missing = metrics
      .map((m) => m.name)
      .filter((n) => n.startsWith('streamsink_') && !doc.includes(`\`${n}\``));
    expect(missing).toEqual([]);
  });
  it('documents every alert', () => {
    for (const r of all) expect(doc, r.alert).toContain(r.alert);
  });
});
