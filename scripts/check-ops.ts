// Offline checks of the operations assets with promtool (Debian package `prometheus`):
//   promtool check rules   ops/prometheus/alerts.yml
//   promtool test rules    ops/prometheus/alerts.test.yml
//   promtool check metrics on the worker's and producer's metrics output, every series populated, and on a
//   freshly started worker's (every labelled series at 0)
// Usage: node scripts/check-ops.ts [scrape.prom ...]   (extra files: saved scrapes to lint as well)
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import {
  createProducerMetrics,
  createRegistry,
  createWorkerMetrics,
  initWorkerSeries,
  registerBuildInfo,
} from '../src/lib/metrics.ts';
import { createRetentionMetrics } from '../src/lib/retention-metrics.ts';

const promtool = process.env.PROMTOOL ?? 'promtool';

function run(args: string[], input?: string): boolean {
  const label = `promtool ${args.join(' ')}`;
  const result = spawnSync(promtool, args, { input, encoding: 'utf8' });
  if (result.error) {
    console.error(`${label}: ${result.error.message} (install it: apt-get install -y prometheus)`);
    return false;
  }
  const output = `${result.stdout}${result.stderr}`.trim();
  const ok = result.status === 0;
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${label}${output ? `\n${indent(output)}` : ''}`);
  return ok;
}

const indent = (s: string) =>
  s
    .split('\n')
    .map((l) => `     ${l}`)
    .join('\n');

/** Every metric of the registry with one series, so the whole exposition (histograms too) is linted. */
async function populatedScrape(): Promise<string> {
  const registry: Registry = createRegistry({ defaultMetrics: true });
  createWorkerMetrics(registry);
  createProducerMetrics(registry);
  createRetentionMetrics(registry);
  registerBuildInfo(registry, { version: '0.0.0-check' });
  for (const metric of registry.getMetricsAsArray()) {
    const names = (metric as unknown as { labelNames?: string[] }).labelNames ?? [];
    const labels = Object.fromEntries(names.map((n) => [n, 'example']));
    if (metric instanceof Counter) metric.inc(labels, 3);
    else if (metric instanceof Histogram) metric.observe(labels, 0.02);
    else if (metric instanceof Gauge && names.length > 0) metric.set(labels, 1);
  }
  return registry.metrics();
}

/** What a worker exposes right after start: every labelled series at 0 (docs/metrics.md). */
async function freshWorkerScrape(): Promise<string> {
  const registry = createRegistry({ defaultMetrics: false });
  initWorkerSeries(createWorkerMetrics(registry), { stream: 'payments', group: 'g', pipeline: 'payments' });
  return registry.metrics();
}

let ok = true;
ok = run(['check', 'rules', 'ops/prometheus/alerts.yml']) && ok;
ok = run(['test', 'rules', 'ops/prometheus/alerts.test.yml']) && ok;
ok = run(['check', 'metrics'], await populatedScrape()) && ok;
ok = run(['check', 'metrics'], await freshWorkerScrape()) && ok;
for (const file of process.argv.slice(2)) ok = run(['check', 'metrics'], readFileSync(file, 'utf8')) && ok;
process.exitCode = ok ? 0 : 1;
