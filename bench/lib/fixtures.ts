/**
 * What the benchmarks share: the servers (REDIS_URL, DATABASE_URL, defaults: local), a run id, a key prefix and
 * Postgres schemas of their own (all deleted by `cleanup`), and worker child processes of the real CLI.
 */

import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import pg from 'pg';
import { migrate } from '../../src/lib/migrations.ts';
import { imageNodeFlags } from './image-flags.ts';

const MAIN = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));

export interface BenchContext {
  readonly redisUrl: string;
  readonly databaseUrl: string;
  readonly run: string;
  readonly prefix: string;
  readonly redis: Redis;
  readonly admin: pg.Pool;
  /** A migrated schema of its own; returns a DATABASE_URL whose connections use it. */
  createSchema(tag: string): Promise<string>;
  cleanup(): Promise<void>;
}

export function benchContext(env: NodeJS.ProcessEnv = process.env): BenchContext {
  const redisUrl = env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  const databaseUrl = env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  const run = randomBytes(4).toString('hex');
  const prefix = `bench_${run}`;
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: null });
  const admin = new pg.Pool({ connectionString: databaseUrl, max: 2 });
  const schemas: string[] = [];
  return {
    redisUrl,
    databaseUrl,
    run,
    prefix,
    redis,
    admin,
    async createSchema(tag) {
      const name = `bench_${tag.replace(/\W/g, '_')}_${run}`;
      await admin.query(`CREATE SCHEMA "${name}"`);
      schemas.push(name);
      const url = new URL(databaseUrl);
      url.searchParams.set('options', `-c search_path=${name}`);
      const pool = new pg.Pool({ connectionString: url.toString(), max: 1 });
      try {
        await migrate(pool);
      } finally {
        await pool.end();
      }
      return url.toString();
    },
    async cleanup() {
      let cursor = '0';
      do {
        const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
        if (keys.length > 0) await redis.unlink(...keys);
        cursor = next;
      } while (cursor !== '0');
      for (const name of schemas) await admin.query(`DROP SCHEMA IF EXISTS "${name}" CASCADE`);
      redis.disconnect();
      await admin.end();
    },
  };
}

export interface WorkerChild {
  readonly child: ChildProcess;
  /** The last 4,000 characters it wrote, for an error message. */
  output(): string;
}

/** A `streamsink worker` child, run with the container image's Node flags (as deployed) unless told otherwise. */
export function spawnWorker(
  ctx: BenchContext,
  env: Record<string, string>,
  nodeArgs: string[] = imageNodeFlags(),
): WorkerChild {
  let out = '';
  const child = spawn(process.execPath, [...nodeArgs, MAIN, 'worker'], {
    env: {
      ...process.env,
      REDIS_URL: ctx.redisUrl,
      STREAMSINK_KEY_PREFIX: ctx.prefix,
      METRICS_PORT: '0',
      LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const keep = (chunk: Buffer) => {
    out = `${out}${chunk.toString()}`.slice(-4000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  return { child, output: () => out };
}

export async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  await exited;
  clearTimeout(timer);
}

/** Resident set size of a process now, in bytes (Linux /proc). */
export function rssBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1]);
  return kib * 1024;
}

/** Entries the group has acknowledged (read minus pending), or 0 before the group exists. */
export async function ackedCount(redis: Redis, key: string, group: string): Promise<number> {
  const groups = (await redis.xinfo('GROUPS', key).catch(() => [])) as Array<Array<string | number | null>>;
  for (const g of groups) {
    const m = new Map<string, string | number | null>();
    for (let i = 0; i < g.length; i += 2) m.set(String(g[i]), g[i + 1] ?? null);
    if (m.get('name') === group) return Number(m.get('entries-read') ?? 0) - Number(m.get('pending') ?? 0);
  }
  return 0;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
