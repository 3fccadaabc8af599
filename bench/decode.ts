/**
 * Micro-benchmark of the worker's hot path decode (`decodeEntry`) on ~300-byte payment entries, against
 * `JSON.parse` of the same `data` text alone (the floor) and `JSON.parse` with a reviver that reads each
 * number's source text (the alternative to a text scan for precision checks).
 *
 *   node bench/decode.ts [--iterations 200000] [--rounds 7]
 *
 * Each round times every variant back to back (rotating the order); the median ns/op over rounds is printed.
 * No I/O: run it on a quiet machine and compare variants within one run, not across machines.
 */
import { parseArgs } from 'node:util';
import { decodeEntry, encodeEnvelope } from '../src/lib/envelope.ts';
import { scanJsonText } from '../src/lib/json-text.ts';
import { isValidTimestamp } from '../src/lib/timestamp.ts';

const { values } = parseArgs({
  options: {
    iterations: { type: 'string', default: '200000' },
    rounds: { type: 'string', default: '7' },
  },
});
const iterations = Number(values.iterations);
const rounds = Number(values.rounds);

/** 64 distinct entries, so the engine cannot cache one string's parse. */
const entries = Array.from({ length: 64 }, (_, i) =>
  encodeEnvelope({
    id: `0193a4b2-7c4e-7d31-9a52-5f0c3e1b${String(i).padStart(4, '0')}`,
    type: 'payment.captured',
    v: 1,
    key: `acct-${i}`,
    ts: '2026-11-21T10:00:00.000Z',
    data: {
      paymentId: `pay_0193a4b2-7c4e-7d31-${i}`,
      accountId: `acct-${i}`,
      amountMinor: 125_000 + i,
      currency: 'EUR',
      capturedAt: '2026-11-21T10:00:00.000Z',
      method: 'card',
      card: { brand: 'visa', last4: '4242', expMonth: 12, expYear: 2029 },
      metadata: { orderId: `ord_${123456 + i}`, channel: 'web', fxRate: 1.0875, retries: [0, 1] },
    },
  }),
);
const dataTexts = entries.map((f) => f[11] as string);
const reviver = (_key: string, value: unknown, context?: { source?: string }) => {
  if (typeof value === 'number' && context?.source !== undefined && context.source.length > 15) return value;
  return value;
};

const variants: Record<string, () => number> = {
  'JSON.parse(data)': () => {
    let n = 0;
    for (let i = 0; i < iterations; i++) n += JSON.parse(dataTexts[i & 63] as string) === null ? 0 : 1;
    return n;
  },
  'JSON.parse(data, reviver)': () => {
    let n = 0;
    for (let i = 0; i < iterations; i++)
      n += JSON.parse(dataTexts[i & 63] as string, reviver as never) === null ? 0 : 1;
    return n;
  },
  'scanJsonText(data)': () => {
    let n = 0;
    for (let i = 0; i < iterations; i++) n += scanJsonText(dataTexts[i & 63] as string) > 0 ? 1 : 0;
    return n;
  },
  'isValidTimestamp(ts)': () => {
    let n = 0;
    for (let i = 0; i < iterations; i++) n += isValidTimestamp(entries[i & 63]?.[9] as string) ? 1 : 0;
    return n;
  },
  decodeEntry: () => {
    let n = 0;
    for (let i = 0; i < iterations; i++) n += decodeEntry(entries[i & 63] as string[]).ok ? 1 : 0;
    return n;
  },
};

const names = Object.keys(variants);
const samples: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]));
for (const name of names) variants[name]?.(); // warm-up
for (let r = 0; r < rounds; r++) {
  for (let k = 0; k < names.length; k++) {
    const name = names[(r + k) % names.length] as string;
    const started = process.hrtime.bigint();
    const ok = variants[name]?.() ?? 0;
    const ns = Number(process.hrtime.bigint() - started) / iterations;
    if (ok !== iterations) throw new Error(`${name}: ${iterations - ok} entries did not decode`);
    samples[name]?.push(ns);
  }
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
console.log(
  `data ${Buffer.byteLength(dataTexts[0] as string)} bytes, entry ${entries[0]?.join('').length} chars`,
);
for (const name of names) console.log(`${name.padEnd(28)} ${median(samples[name] ?? []).toFixed(0)} ns/op`);
