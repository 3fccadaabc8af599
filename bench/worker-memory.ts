// Measures a worker's memory while it drains a backlog with its in-flight limit full, to check the sizing rule
// of docs/deploy.md#memory (scripts/deploy/memory.ts). Run against throwaway keys and an own schema:
//
//   REDIS_URL=redis://127.0.0.1:6379 DATABASE_URL=postgres://postgres@127.0.0.1:5432/test \
//     npx node bench/worker-memory.ts [--events 20000] [--bytes 1024] [--in-flight 2000|default] [--heap-mib 256]
//                                      [--entry dist|src] [--heap-snapshot-at N]
//
// --heap-snapshot-at N writes a V8 heap snapshot of the worker once N events are acknowledged (mid-drain,
// in flight limit full) and prints what the heap holds by type and constructor (bench/lib/heap-summary.ts).
// Prints the peak RSS, V8 heap used and in-flight count scraped from the worker's /metrics every 100 ms, and
// the RSS while the first and the last 100,000 events (or tenth) were acknowledged: flat means no growth.
// Issue 16's figure: `--events 1000000 --bytes 300 --in-flight default` (every worker setting at its default).

import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { createProducer } from '../src/producers/producer.ts';
import { uniqueName } from '../test/helpers/names.ts';
import { createTestSchema } from '../test/helpers/pg.ts';
import { freePort } from '../test/helpers/servers-own.ts';
import { waitFor } from '../test/helpers/wait.ts';
import { formatHeapSummary, summarizeHeapSnapshot } from './lib/heap-summary.ts';
import { imageNodeFlags } from './lib/image-flags.ts';

// The built CLI by default: what the container image runs. From src, Node strips the types at load, which costs
// ~25 MiB of RSS that a deployed worker does not pay (`--entry src` measures it anyway).
const ENTRIES = { dist: '../dist/cli/main.js', src: '../src/cli/main.ts' } as const;
const { values } = parseArgs({
  options: {
    events: { type: 'string', default: '20000' },
    bytes: { type: 'string', default: '1024' },
    'in-flight': { type: 'string', default: '2000' },
    'heap-mib': { type: 'string' },
    entry: { type: 'string', default: 'dist' },
    'node-options': { type: 'string' },
    'heap-snapshot-at': { type: 'string' },
  },
});
const snapshotAt = values['heap-snapshot-at'] ? Number(values['heap-snapshot-at']) : undefined;
const snapshotDir = snapshotAt ? mkdtempSync(join(tmpdir(), 'ssheap-')) : undefined;
const entry = values.entry as keyof typeof ENTRIES;
if (!(entry in ENTRIES)) throw new Error(`--entry: dist or src, got ${values.entry}`);
const MAIN = fileURLToPath(new URL(ENTRIES[entry], import.meta.url));
if (!existsSync(MAIN))
  throw new Error(`${MAIN} is missing: run \`npm run build\` first (or pass --entry src)`);
const events = Number(values.events);
const bytes = Number(values.bytes);
const inFlight = values['in-flight'] ?? '2000';
const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const databaseUrl = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

const prefix = uniqueName('ssmem');
const stream = 'mem';
const redis = new Redis(redisUrl);
const schema = await createTestSchema(databaseUrl, 'mem');
const port = await freePort();

/** utime + stime of a process so far, in microseconds (Linux /proc; clock ticks of 1/100 s). */
function processCpuMicros(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(rest[11]) + Number(rest[12])) * 10_000;
}

/** As the container image runs it (Dockerfile ENTRYPOINT: young generation and old-generation growth capped). */
const IMAGE_NODE_FLAGS = imageNodeFlags();

function run(args: string[], env: Record<string, string>) {
  const flags = snapshotDir ? [...IMAGE_NODE_FLAGS, '--heapsnapshot-signal=SIGUSR2'] : IMAGE_NODE_FLAGS;
  const child = spawn(process.execPath, [...flags, MAIN, ...args], {
    ...(snapshotDir ? { cwd: snapshotDir } : {}),
    env: { PATH: process.env.PATH, REDIS_URL: redisUrl, DATABASE_URL: schema.url, LOG_LEVEL: 'warn', ...env },
    // The children's own output (migrate's progress, worker warnings) is not the bench's result: stderr.
    stdio: ['ignore', process.stderr, process.stderr],
  });
  return { child, exited: new Promise<number | null>((r) => child.on('close', (c) => r(c))) };
}

try {
  if ((await run(['migrate'], {}).exited) !== 0) throw new Error('migrate failed');
  const producer = createProducer({
    redis,
    keyPrefix: prefix,
    idempotent: false,
    maxPayloadBytes: 64 * 1024 * 1024,
  });
  const note = randomBytes(Math.ceil(bytes / 2))
    .toString('hex')
    .slice(0, bytes);
  for (let i = 0; i < events; i += 1000) {
    const chunk = Array.from({ length: Math.min(1000, events - i) }, (_, j) => ({
      type: 'demo.noted',
      data: { n: i + j, note },
    }));
    await producer.publishBatch(stream, chunk);
  }

  const worker = run(['worker'], {
    STREAMSINK_KEY_PREFIX: prefix,
    STREAMSINK_STREAM: stream,
    STREAMSINK_PIPELINE: 'event-log',
    STREAMSINK_MAX_PAYLOAD_BYTES: String(64 * 1024 * 1024),
    STREAMSINK_METRICS_SAMPLE_INTERVAL_MS: '200',
    METRICS_PORT: String(port),
    ...(inFlight === 'default' ? {} : { STREAMSINK_MAX_IN_FLIGHT: inFlight }),
    ...(values['node-options'] ? { NODE_OPTIONS: values['node-options'] } : {}),
    ...(values['heap-mib']
      ? { NODE_OPTIONS: `--max-old-space-size=${values['heap-mib']} ${values['node-options'] ?? ''}` }
      : {}),
  });
  const peak = { rss: 0, heap: 0, inFlight: 0 };
  // Peak RSS while the first and the last `window` events were acknowledged.
  const window = Math.min(100_000, Math.ceil(events / 10));
  const phase = { first: 0, last: 0 };
  let idle = { rss: 0, heap: 0 };
  const gauge = (text: string, name: string) => {
    const m = new RegExp(`^${name}(?:\\{[^}]*\\})? ([0-9.e+]+)$`, 'm').exec(text);
    return m ? Number(m[1]) : 0;
  };
  const started = Date.now();
  let snapshotTaken = false;
  await waitFor(
    async () => {
      const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      const rss = gauge(text, 'process_resident_memory_bytes');
      const heap = gauge(text, 'nodejs_heap_size_used_bytes');
      const held = gauge(text, 'streamsink_in_flight_messages');
      if (idle.rss === 0) idle = { rss, heap };
      peak.rss = Math.max(peak.rss, rss);
      peak.heap = Math.max(peak.heap, heap);
      peak.inFlight = Math.max(peak.inFlight, held);
      const acked = Number(
        /streamsink_messages_total\{[^}]*outcome="acked"[^}]*\} (\d+)/.exec(text)?.[1] ?? 0,
      );
      if (acked > 0 && acked <= window) phase.first = Math.max(phase.first, rss);
      if (acked >= events - window) phase.last = Math.max(phase.last, rss);
      if (snapshotAt !== undefined && !snapshotTaken && acked >= snapshotAt) {
        snapshotTaken = true;
        worker.child.kill('SIGUSR2');
      }
      return acked >= events && held === 0;
    },
    { timeoutMs: 600_000, intervalMs: 100 },
  );
  const seconds = (Date.now() - started) / 1000;
  const cpuMicros = processCpuMicros(worker.child.pid as number);
  worker.child.kill('SIGTERM');
  await worker.exited;
  const mib = (n: number) => `${(n / 2 ** 20).toFixed(0)} MiB`;
  console.log(
    `events ${events} x ${bytes} B, in-flight limit ${inFlight}, heap cap ${values['heap-mib'] ?? 'default'} MiB: peak in flight ${peak.inFlight}, ` +
      `peak RSS ${mib(peak.rss)}, peak heap used ${mib(peak.heap)} ` +
      `(first sample: RSS ${mib(idle.rss)}, heap ${mib(idle.heap)}), drained in ${seconds.toFixed(1)} s; ` +
      `peak RSS during the first ${window} acks ${mib(phase.first)}, during the last ${window} ${mib(phase.last)}; ` +
      `worker CPU ${(cpuMicros / events).toFixed(1)} µs/event (start-up included)`,
  );
  if (snapshotDir) {
    const file = readdirSync(snapshotDir).find((f) => f.endsWith('.heapsnapshot'));
    if (!file) throw new Error(`no heap snapshot was written in ${snapshotDir}`);
    console.log(
      `at ${snapshotAt} acks, ${formatHeapSummary(summarizeHeapSnapshot(join(snapshotDir, file)))}`,
    );
    rmSync(snapshotDir, { recursive: true, force: true });
  }
} finally {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    if (keys.length > 0) await redis.unlink(...keys);
    cursor = next;
  } while (cursor !== '0');
  redis.disconnect();
  await schema.drop();
}
