import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort } from './servers-own.ts';
import { waitFor } from './wait.ts';

/**
 * A real Prometheus server (Debian's `prometheus` package, as .ci/run installs it) owned by one test: a free
 * loopback port, its config and TSDB in a temp directory, stopped by its own PID. It scrapes the given
 * targets and evaluates the given rule files, so alerts and dashboard queries run on what a live worker
 * exposes, with Prometheus' own semantics (counters appearing mid-window, extrapolation, staleness).
 */
export interface OwnPrometheus {
  readonly url: string;
  /** Instant query through the HTTP API; the result vector. */
  query(expr: string): Promise<PromSample[]>;
  /** Stop the server (SIGTERM, then SIGKILL) and remove its directory. Safe to call twice. */
  close(): Promise<void>;
  output(): string;
}

export interface PromSample {
  metric: Record<string, string>;
  value: [number, string];
}

export interface OwnPrometheusOptions {
  /** host:port of each /metrics endpoint, scraped as job `streamsink` (the dashboard matches `.*streamsink.*`). */
  targets: string[];
  ruleFiles: string[];
  /** Scrape and rule evaluation interval, e.g. `1s`. */
  interval: string;
}

export async function startOwnPrometheus(options: OwnPrometheusOptions): Promise<OwnPrometheus> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'streamsink-prometheus-'));
  const config = [
    'global:',
    `  scrape_interval: ${options.interval}`,
    `  evaluation_interval: ${options.interval}`,
    'rule_files:',
    ...options.ruleFiles.map((f) => `  - ${JSON.stringify(path.resolve(f))}`),
    'scrape_configs:',
    '  - job_name: streamsink',
    '    static_configs:',
    `      - targets: ${JSON.stringify(options.targets)}`,
    '',
  ].join('\n');
  writeFileSync(path.join(dir, 'prometheus.yml'), config);
  const port = await freePort();
  const proc = spawn(
    process.env.PROMETHEUS ?? 'prometheus',
    [
      `--config.file=${path.join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${path.join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  proc.stdout?.on('data', (d: Buffer) => {
    out += d.toString();
  });
  proc.stderr?.on('data', (d: Buffer) => {
    out += d.toString();
  });
  let exited = false;
  const exit = new Promise<void>((resolve) => {
    proc.once('exit', () => {
      exited = true;
      resolve();
    });
    proc.once('error', (error) => {
      out += `\n${error.message} (install it: apt-get install -y prometheus)`;
      exited = true;
      resolve();
    });
  });
  const url = `http://127.0.0.1:${port}`;
  let closed: Promise<void> | undefined;
  const server: OwnPrometheus = {
    url,
    output: () => out,
    async query(expr) {
      const res = await fetch(`${url}/api/v1/query?query=${encodeURIComponent(expr)}`);
      const body = (await res.json()) as { status: string; error?: string; data?: { result: PromSample[] } };
      if (body.status !== 'success') throw new Error(`query ${expr}: ${body.error}`);
      return body.data?.result ?? [];
    },
    close() {
      closed ??= (async () => {
        if (!exited && proc.pid !== undefined) {
          process.kill(proc.pid, 'SIGTERM');
          const killer = setTimeout(() => {
            if (!exited && proc.pid !== undefined) process.kill(proc.pid, 'SIGKILL');
          }, 5000);
          await exit;
          clearTimeout(killer);
        }
        rmSync(dir, { recursive: true, force: true });
      })();
      return closed;
    },
  };
  try {
    await waitFor(
      async () => {
        if (exited) throw new Error(`prometheus exited: ${out.slice(-2000)}`);
        return (await fetch(`${url}/-/ready`)).ok;
      },
      { timeoutMs: 30_000, intervalMs: 200, describe: () => out.slice(-2000) },
    );
  } catch (error) {
    await server.close();
    throw error;
  }
  return server;
}
