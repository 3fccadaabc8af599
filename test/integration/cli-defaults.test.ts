import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { streamKeys } from '../../src/lib/redis/keys.ts';
import { runCli } from '../helpers/cli-in-process.ts';
import { uniqueName } from '../helpers/names.ts';

// The README's configuration table gives every flag a default (STREAMSINK_STREAM `events`, STREAMSINK_GROUP
// `streamsink` for the built-ins): each command must run with those defaults, without the flag. Each test
// uses its own key prefix, so the default stream name `events` is not shared with anything else.
let redis: Redis;
const prefixes: string[] = [];

beforeAll(() => {
  redis = new Redis(inject('redisUrl'));
});

afterAll(async () => {
  for (const prefix of prefixes) {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      if (keys.length > 0) await redis.unlink(...keys);
      cursor = next;
    } while (cursor !== '0');
  }
  redis.disconnect();
});

function env(): { env: Record<string, string>; prefix: string } {
  const prefix = uniqueName('ssdef');
  prefixes.push(prefix);
  return {
    prefix,
    env: {
      REDIS_URL: inject('redisUrl'),
      DATABASE_URL: inject('databaseUrl'),
      STREAMSINK_KEY_PREFIX: prefix,
    },
  };
}

const EVENT = `${JSON.stringify({ id: 'e-1', type: 'payment.captured', data: { amountMinor: 1 } })}\n`;

describe('flag defaults from the README table hold for every command', () => {
  it('publish without --stream publishes to the default stream `events`', async () => {
    const { env: e, prefix } = env();
    const run = await runCli(['publish'], e, { stdin: EVENT });
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('stream events: published 1');
    expect(await redis.xlen(streamKeys(prefix, 'events').stream)).toBe(1);
  });

  it('status without --stream and --group reads stream `events`, group `streamsink`', async () => {
    const { env: e, prefix } = env();
    await redis.xgroup('CREATE', streamKeys(prefix, 'events').stream, 'streamsink', '0', 'MKSTREAM');
    const run = await runCli(['status', '--json'], e);
    expect(run.code).toBe(0);
    const report = JSON.parse(run.stdout);
    expect(report.stream).toBe('events');
    expect(report.group).toBe('streamsink');
  });

  it('dlq stats and list without --stream use the default stream', async () => {
    const { env: e, prefix } = env();
    await redis.xadd(streamKeys(prefix, 'events').stream, '*', 'x', '1');
    const stats = await runCli(['dlq', 'stats', '--json'], e);
    expect(stats.code).toBe(0);
    expect(JSON.parse(stats.stdout).key).toBe(streamKeys(prefix, 'events').deadLetter);
    const list = await runCli(['dlq', 'list'], e);
    expect(list.code).toBe(0);
  });

  it('an invalid --stream is reported as --stream; an invalid STREAMSINK_STREAM as the variable', async () => {
    const { env: e } = env();
    for (const argv of [
      ['publish', '--stream', 'has space'],
      ['status', '--stream', 'has space'],
      ['dlq', 'stats', '--stream', 'has space'],
      ['worker', '--stream', 'has space'],
    ]) {
      const run = await runCli(argv, e, { stdin: '' });
      expect(run.code, argv.join(' ')).toBe(2);
      expect(run.stderr, argv.join(' ')).toMatch(/- --stream: expected a stream name/);
      expect(run.stderr, argv.join(' ')).not.toContain('STREAMSINK_STREAM');
    }
    const viaEnv = await runCli(['publish'], { ...e, STREAMSINK_STREAM: 'has space' }, { stdin: '' });
    expect(viaEnv.code).toBe(2);
    expect(viaEnv.stderr).toMatch(/- STREAMSINK_STREAM: expected a stream name/);
    const group = await runCli(['status', '--group', 'a b'], e);
    expect(group.stderr).toMatch(/- --group: expected a group name/);
  });
});

describe('unknown commands', () => {
  it('suggests the nearest command', async () => {
    const run = await runCli(['wroker'], {});
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('unknown command "wroker"; did you mean `streamsink worker`?');
    expect((await runCli(['stat'], {})).stderr).toContain('did you mean `streamsink status`?');
    expect((await runCli(['dlq', 'redirve'], {})).stderr).toContain('did you mean `streamsink dlq redrive`?');
    const far = await runCli(['deploy-everything'], {});
    expect(far.code).toBe(2);
    expect(far.stderr).not.toContain('did you mean');
  });
});
