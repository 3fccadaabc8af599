import { spawn } from 'node:child_process';
import { PassThrough } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { CliContext } from '../../src/cli/context.ts';
import { run } from '../../src/cli/dlq.ts';
import { envelopeFields, type SeedBad, seedDeadLetters } from '../helpers/dead-letters.ts';
import { uniqueName } from '../helpers/names.ts';

const MAIN = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));

let redis: Redis;
const created: string[] = [];

beforeAll(() => {
  redis = new Redis(inject('redisUrl'));
});
afterAll(async () => {
  if (created.length > 0) await redis.del(...created);
  await redis.quit();
});

const BAD: SeedBad[] = [
  ...[1, 2, 3].map((i) => ({
    fields: envelopeFields(`cur-${i}`, 'payment.captured', { currency: 'JPY', amountMinor: i }),
    reason: 'unsupported_currency' as const,
    type: 'payment.captured',
    eventId: `cur-${i}`,
  })),
  { fields: ['id', 'j-1', 'data', '{nope'], reason: 'invalid_json' },
];

async function seed() {
  const s = await seedDeadLetters(redis, BAD);
  created.push(s.keys.stream, s.keys.deadLetter);
  return s;
}

function cli(
  prefix: string,
  ...args: string[]
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [MAIN, 'dlq', ...args], {
      env: { PATH: process.env.PATH, REDIS_URL: inject('redisUrl'), STREAMSINK_KEY_PREFIX: prefix },
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
  });
}

async function snapshot(keys: { stream: string; deadLetter: string }) {
  return [await redis.xrange(keys.stream, '-', '+'), await redis.xrange(keys.deadLetter, '-', '+')];
}

describe('streamsink dlq', () => {
  it('stats and list, as text and JSON', async () => {
    const { prefix } = await seed();
    const stats = await cli(prefix, 'stats', '--stream', 'payments');
    expect(stats.code).toBe(0);
    expect(stats.stdout).toMatch(/4 entries/);
    expect(stats.stdout).toMatch(/unsupported_currency\s+3/);
    const json = JSON.parse((await cli(prefix, 'stats', '--stream', 'payments', '--json')).stdout);
    expect(json).toMatchObject({ total: 4, byReason: { unsupported_currency: 3, invalid_json: 1 } });

    const list = await cli(
      prefix,
      'list',
      '--stream',
      'payments',
      '--reason',
      'unsupported_currency',
      '--limit',
      '2',
    );
    expect(list.code).toBe(0);
    const lines = list.stdout.trim().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toContain('cur-2');
    expect(lines[1]).toContain('cur-3');
    const listed = JSON.parse(
      (await cli(prefix, 'list', '--stream', 'payments', '--since', '1h', '--json')).stdout,
    );
    expect(listed.map((e: { meta: { reason: string } }) => e.meta.reason)).toEqual(BAD.map((b) => b.reason));
  });

  it('show prints the whole entry with the payload pretty-printed', async () => {
    const { prefix, keys } = await seed();
    const [first] = (await redis.xrange(keys.deadLetter, '-', '+', 'COUNT', 1)) as Array<[string, string[]]>;
    const shown = await cli(prefix, 'show', first?.[0] ?? '', '--stream', 'payments');
    expect(shown.code).toBe(0);
    expect(shown.stdout).toContain('unsupported_currency');
    expect(shown.stdout).toContain('"currency": "JPY"');
    const json = JSON.parse(
      (await cli(prefix, 'show', first?.[0] ?? '', '--stream', 'payments', '--json')).stdout,
    );
    expect(json.payload).toEqual({ currency: 'JPY', amountMinor: 1 });
    const missing = await cli(prefix, 'show', '1-1', '--stream', 'payments');
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('no dead-letter entry 1-1');
  });

  it('--dry-run changes nothing, and purge without --yes refuses', async () => {
    const { prefix, keys } = await seed();
    const before = await snapshot(keys);
    const dry = await cli(prefix, 'redrive', '--stream', 'payments', '--all', '--dry-run');
    expect(dry.code).toBe(0);
    expect(dry.stdout).toContain('would redrive 4');
    const dryPurge = await cli(prefix, 'purge', '--stream', 'payments', '--all', '--dry-run');
    expect(dryPurge.stdout).toContain('would delete 4');
    const refused = await cli(prefix, 'purge', '--stream', 'payments', '--all');
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('refusing to purge without --yes');
    expect(await snapshot(keys)).toEqual(before);

    const purged = await cli(prefix, 'purge', '--stream', 'payments', '--reason', 'invalid_json', '--yes');
    expect(purged.code).toBe(0);
    expect(purged.stdout).toContain('deleted 1');
    expect(await redis.xlen(keys.deadLetter)).toBe(3);
  });

  it('redrive puts the originals back and a second run changes nothing', async () => {
    const { prefix, keys } = await seed();
    const streamBefore = await redis.xlen(keys.stream);
    const first = await cli(
      prefix,
      'redrive',
      '--stream',
      'payments',
      '--reason',
      'unsupported_currency',
      '--json',
    );
    expect(first.code).toBe(0);
    expect(JSON.parse(first.stdout)).toMatchObject({ selected: 3, redriven: 3, skipped: 0, failed: 0 });
    const added = (await redis.xrange(keys.stream, '-', '+')).slice(streamBefore) as Array<
      [string, string[]]
    >;
    expect(added.map(([, f]) => f)).toEqual(BAD.slice(0, 3).map((b) => b.fields));
    const again = await cli(prefix, 'redrive', '--stream', 'payments', '--reason', 'unsupported_currency');
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('redriven 0, skipped 0, failed 0 (selected 0)');
    expect(await redis.xlen(keys.stream)).toBe(streamBefore + 3);
  });

  it('usage errors exit 2, unknown streams exit 1 with a clear message', async () => {
    const { prefix } = await seed();
    const none = await cli(prefix, 'redrive', '--stream', 'payments');
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('exactly one of --all, --ids, or --reason/--type');
    const typo = await cli(prefix, 'list', '--stream', 'payments', '--reason', 'unsuported_currency');
    expect(typo.code).toBe(2);
    expect(typo.stderr).toContain('known reasons');
    const unknown = await cli(prefix, 'stats', '--stream', uniqueName('nosuch'));
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/does not exist, and it has no dead-letter stream either/);
    for (const sub of ['stats', 'list', 'show', 'redrive', 'purge']) {
      const help = await cli(prefix, sub, '--help');
      expect(help.code, sub).toBe(0);
      expect(help.stdout, sub).toContain(`streamsink dlq ${sub}`);
    }
  });

  it('draws a progress bar at a terminal, and stops between chunks when interrupted', async () => {
    const { prefix, keys } = await seed();
    const inProcess = async (signal: AbortSignal, ...args: string[]) => {
      const stdout = new PassThrough();
      const stderr = new PassThrough();
      const out: string[] = [];
      const err: string[] = [];
      stdout.on('data', (d) => out.push(String(d)));
      stderr.on('data', (d) => err.push(String(d)));
      const ctx: CliContext = {
        env: { REDIS_URL: inject('redisUrl'), STREAMSINK_KEY_PREFIX: prefix },
        stdin: new PassThrough(),
        stdout,
        stderr,
        interactive: true,
        hostname: 'test',
        readFile: () => '',
        signal,
      };
      const code = await run(args, ctx);
      return { code, stdout: out.join(''), stderr: err.join('') };
    };
    const aborted = new AbortController();
    aborted.abort(new Error('SIGINT'));
    const stopped = await inProcess(aborted.signal, 'redrive', '--stream', 'payments', '--all');
    expect(stopped.code).toBe(1);
    expect(stopped.stdout).toContain(
      'interrupted: the rest is still dead-lettered; run the same command again',
    );
    expect(await redis.xlen(keys.deadLetter)).toBe(4);

    const done = await inProcess(new AbortController().signal, 'redrive', '--stream', 'payments', '--all');
    expect(done.code).toBe(0);
    expect(done.stderr).toContain('\rredrive [##############################] 4/4  redriven 4');
    expect(done.stdout).toBe('redriven 4, skipped 0, failed 0 (selected 4)\n');
  });
});
