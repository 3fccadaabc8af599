import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { runCli } from '../helpers/cli-in-process.ts';
import { envelopeFields, type SeedBad, seedDeadLetters } from '../helpers/dead-letters.ts';
import { uniqueName } from '../helpers/names.ts';
import { waitFor } from '../helpers/wait.ts';

// What a person at a terminal sees: publish progress, status --watch, dlq list's cut, --ids that do not exist,
// and dry runs that list what they would do.
let redis: Redis;
let dir: string;
const prefixes: string[] = [];

beforeAll(() => {
  redis = new Redis(inject('redisUrl'));
  dir = mkdtempSync(path.join(tmpdir(), 'streamsink-ergo-'));
});

afterAll(async () => {
  for (const prefix of prefixes) {
    const keys = await redis.keys(`${prefix}:*`);
    if (keys.length > 0) await redis.unlink(...keys);
  }
  redis.disconnect();
  rmSync(dir, { recursive: true, force: true });
});

const env = (prefix: string) => ({
  REDIS_URL: inject('redisUrl'),
  DATABASE_URL: inject('databaseUrl'),
  STREAMSINK_KEY_PREFIX: prefix,
});

function bad(n: number, reason: SeedBad['reason'] = 'unsupported_currency'): SeedBad[] {
  return Array.from({ length: n }, (_, i) => ({
    fields: envelopeFields(`jpy-${i}`, i % 2 === 0 ? 'payment.captured' : 'payment.authorized', {
      currency: 'JPY',
    }),
    reason,
    type: i % 2 === 0 ? 'payment.captured' : 'payment.authorized',
    eventId: `jpy-${i}`,
  }));
}

async function seeded(entries: SeedBad[]) {
  const seed = await seedDeadLetters(redis, entries);
  prefixes.push(seed.prefix);
  return seed;
}

describe('publish --file progress', () => {
  it('shows lines of the total, a percentage and a rate at a terminal', async () => {
    const prefix = uniqueName('ssergo');
    prefixes.push(prefix);
    const file = path.join(dir, 'events.ndjson');
    const lines = Array.from({ length: 7 }, (_, i) =>
      JSON.stringify({ id: `p-${i}`, type: 'payment.captured', data: { amountMinor: i + 1 } }),
    );
    writeFileSync(file, `${lines.join('\n')}\n`);
    const run = await runCli(
      ['publish', '--stream', 'progress', '--file', file, '--batch-size', '2'],
      env(prefix),
      {
        interactive: true,
      },
    );
    expect(run.code).toBe(0);
    const last = run.stderr.split('\r').pop() ?? '';
    expect(last).toMatch(
      /^7 of 7 lines \(100%\), [\d,]+ lines\/s: published 7, duplicates 0, conflicts 0, rejected 0\n$/,
    );
  });
});

describe('status --watch', () => {
  it('prints the report again every interval until stopped, showing what changed', async () => {
    const prefix = uniqueName('ssergo');
    prefixes.push(prefix);
    const key = `${prefix}:{watched}`;
    await redis.xadd(key, '*', 'x', '1');
    await redis.xgroup('CREATE', key, 'streamsink', '$');
    const stop = new AbortController();
    let seen = '';
    const running = runCli(['status', '--stream', 'watched', '--watch', '--interval', '0.2'], env(prefix), {
      signal: stop.signal,
      onStdout: (s) => {
        seen = s;
      },
    });
    await waitFor(() => /length\s+1\n/.test(seen), { describe: () => seen });
    await redis.xadd(key, '*', 'x', '2');
    await waitFor(() => /length\s+2\n/.test(seen) && /lag\s+1\n/.test(seen), { describe: () => seen });
    stop.abort();
    const run = await running;
    expect(run.code).toBe(0);
    expect(run.stdout.match(/every 0\.2s, Ctrl-C to stop/g)?.length ?? 0).toBeGreaterThanOrEqual(2);
  });

  it('refuses a bad --interval, and --interval without --watch', async () => {
    const bad = await runCli(['status', '--watch', '--interval', '0'], env(uniqueName('ssergo')));
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--interval: expected seconds from 0.2 to 3600');
    expect((await runCli(['status', '--interval', '1'], env(uniqueName('ssergo')))).stderr).toContain(
      '--interval goes with --watch',
    );
  });
});

describe('dlq list', () => {
  it('aligns its columns and says "showing 100 of 114" when it cuts', async () => {
    const { prefix } = await seeded(bad(114));
    const run = await runCli(['dlq', 'list', '--stream', 'payments'], env(prefix));
    expect(run.code).toBe(0);
    const rows = run.stdout.trimEnd().split('\n');
    expect(rows).toHaveLength(100);
    // Every column starts at the same place on every row (types and ids differ in length).
    for (const column of ['deliveries=', 'PoisonMessageError']) {
      const at = new Set(rows.map((r) => r.indexOf(column)));
      expect([...at], column).toHaveLength(1);
    }
    expect(run.stderr).toBe('showing 100 of 114 (the newest; --limit 114 shows all)\n');
    const filtered = await runCli(
      ['dlq', 'list', '--stream', 'payments', '--type', 'payment.captured', '--limit', '50'],
      env(prefix),
    );
    expect(filtered.stderr).toBe('showing 50 of 57 (the newest; --limit 57 shows all)\n');
    const all = await runCli(['dlq', 'list', '--stream', 'payments', '--limit', '200'], env(prefix));
    expect(all.stderr).toBe('');
  });
});

describe('dlq redrive and purge', () => {
  it('--ids warns about ids that are not dead letters (and lists them in --json)', async () => {
    const { prefix, keys } = await seeded(bad(2));
    const [first] = (await redis.xrange(keys.deadLetter, '-', '+')).map(([id]) => id);
    const run = await runCli(
      ['dlq', 'redrive', '--stream', 'payments', '--ids', `${first},1-1,2-2`],
      env(prefix),
    );
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('redriven 1, skipped 0, failed 0 (selected 1)');
    expect(run.stderr).toBe(
      'streamsink dlq redrive: warning: 2 of the --ids are not in the dead-letter stream, nothing done for them: 1-1, 2-2\n',
    );
    const json = await runCli(
      ['dlq', 'purge', '--stream', 'payments', '--ids', '3-3', '--yes', '--json'],
      env(prefix),
    );
    expect(JSON.parse(json.stdout)).toMatchObject({ selected: 0, purged: 0, missing: ['3-3'] });
    expect(json.stderr).toContain('1 of the --ids is not in the dead-letter stream');
  });

  it('--dry-run lists what it would redrive or delete, in text and in --json, and changes nothing', async () => {
    const { prefix, keys } = await seeded([...bad(3), ...bad(1, 'schema_violation')]);
    const before = await redis.xlen(keys.deadLetter);
    const ids = (await redis.xrange(keys.deadLetter, '-', '+')).map(([id]) => id);
    const text = await runCli(
      ['dlq', 'redrive', '--stream', 'payments', '--reason', 'unsupported_currency', '--dry-run'],
      env(prefix),
    );
    expect(text.code).toBe(0);
    const lines = text.stdout.trimEnd().split('\n');
    expect(lines[0]).toBe('dry run: would redrive 3 dead letters; nothing changed');
    expect(lines.slice(1).map((l) => l.trim().split(/\s+/)[0])).toEqual(ids.slice(0, 3));
    expect(lines[1]).toMatch(/unsupported_currency\s+payment\.captured\s+jpy-0\s+deliveries=1/);
    const json = await runCli(
      ['dlq', 'purge', '--stream', 'payments', '--reason', 'schema_violation', '--dry-run', '--json'],
      env(prefix),
    );
    const preview = JSON.parse(json.stdout);
    expect(preview).toMatchObject({ dryRun: true, selected: 1, purged: 0, ids: [ids[3]] });
    expect(preview.entries).toEqual([
      expect.objectContaining({ id: ids[3], reason: 'schema_violation', eventId: 'jpy-0', deliveries: 1 }),
    ]);
    expect(await redis.xlen(keys.deadLetter)).toBe(before);
  });
});
