import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { streamKeys } from '../../src/lib/redis/keys.ts';
import { REPO_ROOT } from '../helpers/dist.ts';
import { uniqueName } from '../helpers/names.ts';

// The README's `npx streamsink ...` examples, run as written in a checkout that was never built (no dist/):
// the files git would check out, plus the installed node_modules. npx resolves the project's own bin.
const run = promisify(execFile);
let dir: string;
let cache: string;
let redis: Redis;
const prefix = uniqueName('ssbin');

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'streamsink-checkout-'));
  cache = mkdtempSync(path.join(tmpdir(), 'streamsink-npx-cache-'));
  const { stdout } = await run('git', ['ls-files', '--cached', '--others', '--exclude-standard', '-z'], {
    cwd: REPO_ROOT,
    maxBuffer: 16 * 1024 * 1024,
  });
  for (const file of stdout
    .split('\0')
    .filter((f) => f.length > 0 && !/^(dist|node_modules)(\/|$)/.test(f))) {
    if (existsSync(path.join(REPO_ROOT, file)))
      cpSync(path.join(REPO_ROOT, file), path.join(dir, file), { recursive: true });
  }
  symlinkSync(path.join(REPO_ROOT, 'node_modules'), path.join(dir, 'node_modules'));
  redis = new Redis(inject('redisUrl'));
});

afterAll(async () => {
  rmSync(dir, { recursive: true, force: true });
  rmSync(cache, { recursive: true, force: true });
  const keys = await redis.keys(`${prefix}:*`);
  if (keys.length > 0) await redis.unlink(...keys);
  redis.disconnect();
});

/** `npx streamsink ...` in the checkout, offline, with a throwaway npx cache. */
function npx(args: string[], input?: string) {
  const child = run('npx', ['--offline', 'streamsink', ...args], {
    cwd: dir,
    env: {
      ...process.env,
      npm_config_cache: cache,
      npm_config_update_notifier: 'false',
      REDIS_URL: inject('redisUrl'),
      STREAMSINK_KEY_PREFIX: prefix,
    },
    timeout: 120_000,
  });
  if (input !== undefined) child.child.stdin?.end(input);
  return child;
}

describe('npx streamsink in a fresh, unbuilt checkout', () => {
  it('has no dist/ and a bin that does not point into it', () => {
    expect(existsSync(path.join(dir, 'dist'))).toBe(false);
    const pkg = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8'));
    expect(pkg.files).toContain(path.dirname(pkg.bin.streamsink).replace(/^\.\//, ''));
  });

  it('runs the commands the README shows', async () => {
    const version = await npx(['--version']);
    expect(version.stdout).toBe('streamsink 0.1.0\n');
    const help = await npx(['publish', '--help']);
    expect(help.stdout).toContain('Usage: streamsink publish');
    const line = `${JSON.stringify({ id: 'bin-1', type: 'payment.captured', data: { amountMinor: 1 } })}\n`;
    const published = await npx(['publish', '--stream', 'payments', '--json'], line);
    expect(JSON.parse(published.stdout)).toMatchObject({ stream: 'payments', published: 1 });
    expect(await redis.xlen(streamKeys(prefix, 'payments').stream)).toBe(1);
    const stats = await npx(['dlq', 'stats', '--stream', 'payments']);
    expect(stats.stdout).toContain(`dead-letter stream ${prefix}:{payments}:dlq: 0 entries`);
  });
});
