import type { RedisClient as Redis } from '../lib/redis/client.ts';
import { streamKeys } from '../lib/redis/keys.ts';
import { html, type SafeHtml } from './html.ts';

/**
 * Throughput for the sparklines: counters sampled from Redis every interval (XINFO STREAM's entries-added,
 * XINFO GROUPS' entries-read), kept in memory (the last `keep` samples per series), turned into rates. Lost on
 * restart, which is fine for a glance at "is it moving". The rate and drawing parts are pure.
 */

export interface Sample {
  atMs: number;
  value: number;
}

/** Per-second rates between consecutive samples; a counter that went down (stream recreated) gives 0. */
export function rates(samples: readonly Sample[]): number[] {
  const out: number[] = [];
  for (let i = 1; i < samples.length; i++) {
    const a = samples[i - 1] as Sample;
    const b = samples[i] as Sample;
    const dt = (b.atMs - a.atMs) / 1000;
    out.push(dt > 0 && b.value >= a.value ? (b.value - a.value) / dt : 0);
  }
  return out;
}

/** An inline SVG polyline of `values`, scaled to the largest; a flat line when all are 0. */
export function sparkline(values: readonly number[], label: string, width = 120, height = 24): SafeHtml {
  const max = Math.max(0, ...values);
  const n = values.length;
  const points = values
    .map((v, i) => {
      const x = n === 1 ? width : (i / (n - 1)) * width;
      const y = max === 0 ? height - 1 : height - 1 - (v / max) * (height - 2);
      return `${x.toFixed(1)},${y.toFixed(1)}`;
    })
    .join(' ');
  return html`<svg class="spark" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img" aria-label="${label}"><title>${label}</title>${
    n > 0 ? html`<polyline fill="none" stroke="currentColor" stroke-width="1.5" points="${points}"/>` : ''
  }</svg>`;
}

export interface ThroughputSampler {
  /** Rates of a series: `stream` (entries added) or `stream/group` (entries read by the group). */
  rates(series: string): number[];
  close(): void;
}

export function startThroughputSampler(options: {
  redis: Redis;
  keyPrefix: string;
  streams: readonly string[];
  intervalMs: number;
  keep?: number;
  onError?: (error: unknown) => void;
}): ThroughputSampler {
  const keep = options.keep ?? 60;
  const series = new Map<string, Sample[]>();
  const push = (name: string, atMs: number, value: number | null) => {
    if (value === null || !Number.isFinite(value)) return;
    const list = series.get(name) ?? [];
    list.push({ atMs, value });
    if (list.length > keep + 1) list.shift();
    series.set(name, list);
  };
  let running = false;
  const sample = async () => {
    if (running) return; // a slow Redis must not stack samples up
    running = true;
    try {
      for (const stream of options.streams) {
        const key = streamKeys(options.keyPrefix, stream).stream;
        const atMs = Date.now();
        const info = await options.redis.xinfo('STREAM', key).catch(() => undefined);
        if (!Array.isArray(info)) continue;
        push(stream, atMs, numberField(info, 'entries-added'));
        const groups = (await options.redis.xinfo('GROUPS', key).catch(() => [])) as unknown[];
        for (const g of groups)
          if (Array.isArray(g))
            push(`${stream}/${String(field(g, 'name'))}`, atMs, numberField(g, 'entries-read'));
      }
    } catch (error) {
      options.onError?.(error);
    } finally {
      running = false;
    }
  };
  void sample();
  const timer = setInterval(() => void sample(), options.intervalMs);
  timer.unref();
  return {
    rates: (name) => rates(series.get(name) ?? []),
    close: () => clearInterval(timer),
  };
}

function field(flat: unknown[], name: string): unknown {
  for (let i = 0; i + 1 < flat.length; i += 2) if (flat[i] === name) return flat[i + 1];
  return undefined;
}

function numberField(flat: unknown[], name: string): number | null {
  const v = field(flat, name);
  const n = typeof v === 'number' ? v : typeof v === 'string' ? Number(v) : Number.NaN;
  return Number.isFinite(n) ? n : null;
}
