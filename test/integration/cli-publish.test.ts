import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { decodeEntry } from '../../src/lib/envelope.ts';
import { streamKeys } from '../../src/lib/redis/keys.ts';
import { uniqueName } from '../helpers/names.ts';
import { freePort } from '../helpers/servers-own.ts';

const MAIN = new URL('../../src/cli/main.ts', import.meta.url).pathname;
const prefix = uniqueName('sscli');
let redis: Redis;
let dir: string;

beforeAll(async () => {
  redis = new Redis(inject('redisUrl'));
  dir = await mkdtemp(join(tmpdir(), 'streamsink-cli-'));
});

afterAll(async () => {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    if (keys.length > 0) await redis.unlink(...keys);
    cursor = next;
  } while (cursor !== '0');
  redis.disconnect();
  await rm(dir, { recursive: true, force: true });
});

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function cli(args: string[], stdin = '', env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [MAIN, 'publish', ...args], {
      env: {
        PATH: process.env.PATH,
        REDIS_URL: inject('redisUrl'),
        STREAMSINK_KEY_PREFIX: prefix,
        STREAMSINK_MAX_PAYLOAD_BYTES: '1024',
        ...env,
      },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(stdin);
  });
}

const line = (o: unknown) => JSON.stringify(o);
const mixedFile = [
  line({ id: 'evt-1', type: 'payment.captured', data: { amountMinor: 100 } }),
  line({ id: 'evt-2', type: 'payment.captured', key: 'acct-9', data: { amountMinor: 200 } }),
  '',
  line({ id: 'evt-1', type: 'payment.captured', data: { amountMinor: 100 } }),
  '{"id":"evt-3","type":"payment.captured"',
  line({ id: 'evt 4', type: 'payment.captured', ts: 'yesterday', data: {} }),
  line({ id: 'evt-5', type: 'payment.captured', data: { blob: 'x'.repeat(2000) } }),
  line({ type: 'payment.captured', data: { amountMinor: 5 } }),
  line({ id: 'evt-6', type: 'payment.captured', data: { nested: { __proto__x: 1 } }, extra: true }),
].join('\n');

describe('streamsink publish', () => {
  it('publishes a file with valid, duplicate and malformed lines, and summarises with line numbers', async () => {
    const stream = uniqueName('clitext');
    const file = join(dir, `${stream}.ndjson`);
    await writeFile(file, `${mixedFile}\n`);
    const env = ['--stream', stream, '--file', file];
    const run = await cli([...env]);
    expect(run.stderr).not.toContain('unexpected error');
    expect(run.code).toBe(1);
    const out = run.stdout.split('\n');
    expect(out[0]).toBe(`stream ${stream}: published 3, duplicates 1, conflicts 0, rejected 4 (9 lines)`);
    expect(out[1]).toMatch(/^ {2}line 5: invalid_json: not valid JSON/);
    expect(out[2]).toMatch(/^ {2}line 6: malformed_envelope: id: .*; ts: /);
    expect(out[3]).toMatch(/^ {2}line 7: oversize: event is \d+ bytes, over the limit of 1024 bytes$/);
    expect(out[4]).toMatch(/^ {2}line 9: malformed_envelope: extra: unexpected field$/);

    const entries = await redis.xrange(streamKeys(prefix, stream).stream, '-', '+');
    const ids = entries.map(([, f]) => {
      const d = decodeEntry(f);
      if (!d.ok) throw new Error(d.message);
      return d.envelope.id;
    });
    expect(ids.slice(0, 2)).toEqual(['evt-1', 'evt-2']);
    expect(ids).toHaveLength(3);

    // The same file again: every line is a duplicate, the id-less one too (its id comes from its content).
    const again = await cli([...env, '--json']);
    expect(again.code).toBe(1);
    const summary = JSON.parse(again.stdout);
    expect(summary).toMatchObject({ stream, lines: 9, published: 0, duplicates: 4, rejectedCount: 4 });
    expect(summary.rejected.map((r: { line: number; reason: string }) => [r.line, r.reason])).toEqual([
      [5, 'invalid_json'],
      [6, 'malformed_envelope'],
      [7, 'oversize'],
      [9, 'malformed_envelope'],
    ]);
  }, 60_000);

  it('rejects lines whose text JSON.parse would silently resolve: repeated keys, inexact numbers', async () => {
    const stream = uniqueName('clistrict');
    const lines = [
      '{"id":"s-1","type":"payment.captured","data":{"amountMinor":100,"amountMinor":1000000}}',
      '{"id":"s-2","type":"payment.captured","data":{"amountMinor":100.0000000000000001}}',
      '{"id":"s-3","type":"payment.captured","data":{"n":[1,9007199254740993]}}',
      '{"id":"s-4","type":"payment.captured","type":"refund.issued","data":{}}',
      '{"id":"s-5","type":"payment.captured","ts":"2026-02-30T10:00:00Z","data":{}}',
      '{"id":"s-6","type":"payment.captured","data":{"amountMinor":1.50,"n":9007199254740991}}',
    ];
    const run = await cli(['--stream', stream, '--json'], `${lines.join('\n')}\n`);
    expect(run.code).toBe(1);
    const summary = JSON.parse(run.stdout);
    expect(summary).toMatchObject({ published: 1, rejectedCount: 5 });
    expect(
      summary.rejected.map((r: { line: number; reason: string; message: string }) => [
        r.line,
        r.reason,
        r.message.split(':')[0],
      ]),
    ).toEqual([
      [1, 'duplicate_key', 'data.amountMinor'],
      [2, 'imprecise_number', 'data.amountMinor'],
      [3, 'imprecise_number', 'data.n[1]'],
      [4, 'duplicate_key', 'type'],
      [5, 'malformed_envelope', 'ts'],
    ]);
    const entries = await redis.xrange(streamKeys(prefix, stream).stream, '-', '+');
    expect(entries.map(([, f]) => f[1])).toEqual(['s-6']);
  }, 60_000);

  it('reads stdin in small batches and exits 0 when nothing is rejected', async () => {
    const stream = uniqueName('clistdin');
    const input = Array.from({ length: 250 }, (_, i) =>
      line({ id: `s-${i % 200}`, type: 'tick', data: { i: i % 200 } }),
    ).join('\n');
    const run = await cli(['--stream', stream, '--batch-size', '7', '--json'], input);
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ published: 200, duplicates: 50, rejectedCount: 0 });
    expect(await redis.xlen(streamKeys(prefix, stream).stream)).toBe(200);
  });

  it('stops with a summary naming the unreachable Redis and where to resume, exit 1', async () => {
    const closedPort = await freePort();
    const input = [line({ id: 'u-1', type: 'tick', data: {} }), 'not json'].join('\n');
    const run = await cli(['--stream', uniqueName('down')], input, {
      REDIS_URL: `redis://127.0.0.1:${closedPort}`,
    });
    expect(run.code).toBe(1);
    expect(run.stdout).toContain('stopped: cannot connect to Redis at redis://127.0.0.1:');
    expect(run.stdout).toContain('ECONNREFUSED');
    expect(run.stdout).toContain('lines from 1 on may not have been published');
    expect(run.stdout).toContain('line 2: invalid_json');
    expect(run.stderr).not.toContain('Unhandled error event');
  });

  it('refuses unknown flags and bad values with exit code 2 and no stack trace', async () => {
    const unknown = await cli(['--stream', 'x', '--bogus']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("Unknown option '--bogus'");
    const badBatch = await cli(['--stream', 'x', '--batch-size', 'many']);
    expect(badBatch.code).toBe(2);
    expect(badBatch.stderr).toContain('--batch-size');
    const noFile = await cli(['--stream', 'x', '--file', join(dir, 'missing.ndjson')]);
    expect(noFile.code).toBe(2);
    expect(noFile.stderr).toContain('ENOENT');
    expect(`${unknown.stderr}${badBatch.stderr}${noFile.stderr}`).not.toMatch(/\n\s+at /);
    const help = await cli(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('Usage: streamsink publish [--stream S]');
  });
});
