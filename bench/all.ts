/**
 * `npm run bench`: every benchmark of issue 16 in one run, side by side, on the same servers:
 *
 *   1. throughput (bench/worker.ts): BullMQ, the batched reference, streamsink x1 and x2, payments x1 in both
 *      forms (SQL apply and decide),
 *      with ratios against the baselines of the same run and CPU µs per message for worker, Postgres and Redis;
 *   2. latency (bench/latency.ts): the publish -> commit curve at fractions of the publish -> commit maximum
 *      (a burst, publisher and worker on the same cores), one step at half of step 1's drain rate,
 *      p50/p99/p99.9, lone events, and the knee chart (SVG);
 *   3. memory (bench/worker-memory.ts): one worker, default settings, draining a 1M-entry backlog of ~300 B events;
 *   4. ordered vs unordered consumption of a 16-partition stream, and lone events on it once idle
 *      (bench/ordered.ts, issue 12);
 *   5. a 3-master Redis Cluster vs one node, both started here (bench/cluster.ts, issue 12);
 *   6. adaptive vs fixed concurrency, healthy, slowed through a latency proxy, recovered (bench/load-management.ts,
 *      issue 15).
 *
 *   npm run bench [-- --quick] [--out bench/results]
 *
 * --quick shrinks every size (for a smoke run; its figures are not the ones to quote). The printed output is
 * also written to <out>/bench.txt with the machine it ran on, and the chart to <out>/latency-curve.svg.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: { quick: { type: 'boolean', default: false }, out: { type: 'string', default: 'bench/results' } },
});
const out = values.out as string;
mkdirSync(out, { recursive: true });
const here = (file: string) => fileURLToPath(new URL(file, import.meta.url));
const quick = values.quick === true;

/** Runs a bench script; its stdout is echoed and returned, its stderr (progress) passes through. */
function step(script: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [here(script), ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
    let text = '';
    child.stdout.on('data', (chunk: Buffer) => {
      text += chunk.toString();
      process.stdout.write(chunk);
    });
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0 ? resolve(text) : reject(new Error(`${script} exited with ${code}`)),
    );
  });
}

const machine =
  `${os.cpus().length} x ${os.cpus()[0]?.model ?? 'cpu'}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, ` +
  `Node ${process.version}, load average ${os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')} at start`;
const sections: string[] = [`streamsink benchmarks, ${new Date().toISOString()}\nmachine: ${machine}\n`];
process.stdout.write(sections[0] as string);

// The memory figure is for the built worker (what the image runs): build it first.
await new Promise<void>((resolve, reject) =>
  spawn('npm', ['run', 'build', '--silent'], { stdio: ['ignore', process.stderr, 'inherit'] }).on(
    'close',
    (code) => (code === 0 ? resolve() : reject(new Error(`npm run build exited with ${code}`))),
  ),
);
const jsonOut = join(out, 'throughput.json');
sections.push(
  await step('./worker.ts', [
    '--only',
    'bullmq,reference,streamsink-1,streamsink-2,payments-apply,payments-decide',
    '--events',
    quick ? '20000' : '200000',
    '--rounds',
    quick ? '1' : '3',
    '--json-out',
    jsonOut,
  ]),
);
const throughput = JSON.parse(readFileSync(jsonOut, 'utf8')) as {
  results: Array<{ name: string; msgsPerSecond: number }>;
};
const one = throughput.results.find((r) => r.name === 'streamsink-1')?.msgsPerSecond;

sections.push(
  await step('./latency.ts', [
    // The steps are fractions of the publish -> commit maximum the latency bench measures itself (publisher
    // and worker sharing the cores); step 1's drain rate adds the step that earlier runs called "half".
    ...(one ? ['--drain-rate', String(one)] : []),
    '--seconds',
    quick ? '2' : '8',
    '--svg',
    join(out, 'latency-curve.svg'),
  ]),
);
sections.push(
  await step('./worker-memory.ts', [
    '--events',
    quick ? '50000' : '1000000',
    '--bytes',
    '300',
    '--in-flight',
    'default',
  ]),
);
// Issue 12: ordered vs unordered consumption, and a Redis Cluster vs one node (both started here).
sections.push(
  await step('./ordered.ts', ['--events', quick ? '5000' : '40000', '--rounds', quick ? '1' : '3']),
);
sections.push(await step('./cluster.ts', ['--events', quick ? '5000' : '40000']));
// Issue 15: adaptive vs fixed concurrency, healthy, with Postgres slowed through a proxy, and recovered.
sections.push(
  await step('./load-management.ts', [
    // Enough backlog for three phases: healthy ran at 15k events/s on one machine and 46k on another, where
    // 500,000 events ran out before the recovered phase ended (8 s x 46k + slowed + recovered > 500k).
    ...['--phase', quick ? '3' : '8'],
    ...['--events', quick ? '100000' : '1000000'],
  ]),
);
writeFileSync(join(out, 'bench.txt'), sections.join('\n'));
process.stdout.write(`\nwritten: ${join(out, 'bench.txt')}, ${join(out, 'latency-curve.svg')}\n`);
