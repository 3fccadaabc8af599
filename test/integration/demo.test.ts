import { type ChildProcess, spawn } from 'node:child_process';
import { Redis } from 'ioredis';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { streamKeys } from '../../src/lib/redis/keys.ts';
import { REPO_ROOT } from '../helpers/dist.ts';
import { uniqueName } from '../helpers/names.ts';
import { createTestSchema, type TestSchema } from '../helpers/pg.ts';
import { descendants, isRunning, killAll } from '../helpers/process-tree.ts';
import { freePort } from '../helpers/servers-own.ts';
import { waitFor } from '../helpers/wait.ts';

// `npm run demo` (scripts/demo.ts) against the test servers: its own schema and key prefix per test.
let redis: Redis;
const schemas: TestSchema[] = [];
const prefixes: string[] = [];
const leftovers: number[] = [];

beforeAll(() => {
  redis = new Redis(inject('redisUrl'));
});

afterAll(async () => {
  killAll(leftovers);
  for (const s of schemas) await s.drop();
  for (const prefix of prefixes) {
    const keys = await redis.keys(`${prefix}:*`);
    if (keys.length > 0) await redis.unlink(...keys);
  }
  redis.disconnect();
});

async function setup(): Promise<{ env: NodeJS.ProcessEnv; schema: TestSchema; prefix: string }> {
  const schema = await createTestSchema(inject('databaseUrl'), 'demo');
  schemas.push(schema);
  const prefix = uniqueName('ssdemo');
  prefixes.push(prefix);
  const env = {
    ...process.env,
    REDIS_URL: inject('redisUrl'),
    DATABASE_URL: schema.url,
    STREAMSINK_KEY_PREFIX: prefix,
  };
  return { env, schema, prefix };
}

function demo(
  args: string[],
  env: NodeJS.ProcessEnv,
): { proc: ChildProcess; output: () => string; exit: Promise<number | null> } {
  let output = '';
  const proc = spawn(process.execPath, ['scripts/demo.ts', ...args], {
    cwd: REPO_ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  leftovers.push(proc.pid as number);
  proc.stdout?.on('data', (d) => {
    output += d;
  });
  proc.stderr?.on('data', (d) => {
    output += d;
  });
  const exit = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
  return { proc, output: () => output, exit };
}

async function count(schema: TestSchema, sql: string): Promise<number> {
  const client = new pg.Client({ connectionString: schema.url });
  await client.connect();
  try {
    return Number((await client.query<{ n: string }>(sql)).rows[0]?.n);
  } finally {
    await client.end();
  }
}

describe('npm run demo', () => {
  it('--duration: migrates, applies events through two workers, dead-letters the bad ones, exits 0', async () => {
    const { env, schema, prefix } = await setup();
    const run = demo(['--duration', '4', '--rate', '60'], env);
    const code = await run.exit;
    expect(code, run.output()).toBe(0);
    expect(await count(schema, 'SELECT count(*) AS n FROM payments')).toBeGreaterThan(0);
    const applied = await count(
      schema,
      `SELECT count(*) AS n FROM streamsink_inbox WHERE stream = 'demo-payments'`,
    );
    expect(applied).toBeGreaterThan(0);
    // Both workers took part, and the JPY payments and broken entries were dead-lettered, not applied.
    const consumers = (await redis.xinfo(
      'CONSUMERS',
      streamKeys(prefix, 'demo-payments').stream,
      'demo-projector',
    )) as unknown[][];
    expect(consumers.map((c) => c[1]).sort()).toEqual(['demo-worker-1', 'demo-worker-2']);
    expect(await redis.xlen(streamKeys(prefix, 'demo-payments').deadLetter)).toBeGreaterThan(0);
    expect(run.output()).toMatch(/demo-worker-1 exited with code 0\n\s+demo-worker-2 exited with code 0/);
    expect(run.output()).toContain(
      'npx streamsink dlq redrive --stream demo-payments --reason unsupported_currency',
    );
    expect(run.output()).toContain('npx streamsink status --stream demo-payments --group demo-projector');
  });

  it('Ctrl-C (SIGINT) stops the producer and both workers; no child process survives', async () => {
    const { env } = await setup();
    const run = demo(['--rate', '40'], env);
    await waitFor(() => /applied [1-9]/.test(run.output()), { timeoutMs: 60_000, describe: run.output });
    const children = descendants(run.proc.pid as number);
    leftovers.push(...children);
    expect(children.length).toBeGreaterThanOrEqual(2);
    run.proc.kill('SIGINT');
    expect(await run.exit, run.output()).toBe(0);
    for (const pid of children) expect(isRunning(pid), `child ${pid} still running`).toBe(false);
    expect(run.output()).toMatch(/demo-worker-1 exited with code 0/);
    expect(run.output()).toMatch(/demo-worker-2 exited with code 0/);
    expect(run.output()).toContain('Try next');
  });

  it('says how to start the servers when they do not answer', async () => {
    const { env } = await setup();
    const run = demo(['--duration', '1'], { ...env, REDIS_URL: `redis://127.0.0.1:${await freePort()}` });
    expect(await run.exit).toBe(1);
    expect(run.output()).toMatch(/Redis\s+redis:\/\/127\.0\.0\.1:\d+: .*ECONNREFUSED/);
    expect(run.output()).toContain('docker compose up -d --wait redis postgres');
    expect(run.output()).not.toContain('Started 2 workers');
  });
});
