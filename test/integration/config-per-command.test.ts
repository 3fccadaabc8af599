import { spawn } from 'node:child_process';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { streamKeys } from '../../src/lib/redis/keys.ts';
import { uniqueName } from '../helpers/names.ts';

// One schema per command: a variable only another command reads can never stop this one.
const MAIN = new URL('../../src/cli/main.ts', import.meta.url).pathname;
const prefix = uniqueName('sscfg');
let redis: Redis;

beforeAll(() => {
  redis = new Redis(inject('redisUrl'));
});

afterAll(async () => {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    if (keys.length > 0) await redis.unlink(...keys);
    cursor = next;
  } while (cursor !== '0');
  redis.disconnect();
});

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Run the real CLI; killed (by its pid) after 30 s so a worker that wrongly starts cannot hang the test. */
function cli(args: string[], env: Record<string, string>, stdin = ''): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [MAIN, ...args], {
      env: { PATH: process.env.PATH, REDIS_URL: inject('redisUrl'), STREAMSINK_KEY_PREFIX: prefix, ...env },
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(stdin);
  });
}

// Worker-only settings, each invalid, and a database secret file that does not exist.
const WORKER_ONLY_BAD = {
  STREAMSINK_BATCH_SIZE: 'abc',
  STREAMSINK_CONCURRENCY: '0',
  STREAMSINK_PG_LOCK_TIMEOUT_MS: 'soon',
  DATABASE_URL_FILE: '/nonexistent/streamsink-db-url',
};

describe('config per command', () => {
  it('publish ignores worker settings it never reads: STREAMSINK_BATCH_SIZE=abc publishes', async () => {
    const stream = uniqueName('cfgpub');
    const event = JSON.stringify({ id: 'evt-1', type: 'payment.captured', data: { amountMinor: 1 } });
    const run = await cli(['publish', '--stream', stream], WORKER_ONLY_BAD, `${event}\n`);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(await redis.xlen(streamKeys(prefix, stream).stream)).toBe(1);
  });

  it('publish still names every bad variable it does use, in one message', async () => {
    const run = await cli(['publish', '--stream', uniqueName('cfgpub')], {
      ...WORKER_ONLY_BAD,
      STREAMSINK_MAXLEN: 'lots',
      STREAMSINK_DEDUPE_WINDOW_MS: '5',
    });
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('STREAMSINK_MAXLEN');
    expect(run.stderr).toContain('STREAMSINK_DEDUPE_WINDOW_MS');
    expect(run.stderr).not.toContain('STREAMSINK_BATCH_SIZE');
  });

  it('worker refuses STREAMSINK_BATCH_SIZE=abc and names it', async () => {
    const run = await cli(['worker', '--stream', uniqueName('cfgwrk')], {
      DATABASE_URL: inject('databaseUrl'),
      METRICS_PORT: '0',
      STREAMSINK_BATCH_SIZE: 'abc',
    });
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('STREAMSINK_BATCH_SIZE');
  });
});
