import { Redis } from 'ioredis';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { type OwnPostgres, type OwnRedis, startOwnPostgres, startOwnRedis } from '../helpers/servers-own.ts';

describe('own servers for fault injection', () => {
  const cleanups: Array<() => Promise<void>> = [];
  afterAll(async () => {
    for (const c of cleanups.reverse()) await c();
  });

  it('a Redis with AOF appendfsync always keeps a stream across a SIGKILL restart', async () => {
    const server: OwnRedis = await startOwnRedis({ aof: true });
    cleanups.push(server.stop);
    const redis = new Redis(server.url, { retryStrategy: () => 50 });
    redis.on('error', () => {});
    cleanups.push(async () => redis.disconnect());
    for (let i = 0; i < 100; i++) await redis.xadd('s', '*', 'n', String(i));
    expect(await redis.config('GET', 'appendfsync')).toEqual(['appendfsync', 'always']);
    const before = server.pid();
    await server.restart('SIGKILL');
    expect(server.pid()).not.toBe(before);
    expect(await redis.xlen('s')).toBe(100);
  });

  it('a Redis without persistence comes back empty', async () => {
    const server = await startOwnRedis();
    cleanups.push(server.stop);
    const redis = new Redis(server.url, { retryStrategy: () => 50 });
    redis.on('error', () => {});
    cleanups.push(async () => redis.disconnect());
    await redis.xadd('s', '*', 'n', '1');
    await server.restart();
    expect(await redis.xlen('s')).toBe(0);
  });

  it('a Postgres keeps committed rows across fast and immediate restarts', async () => {
    const server: OwnPostgres = await startOwnPostgres();
    cleanups.push(server.stop);
    const query = async (sql: string) => {
      const c = new pg.Client({ connectionString: server.url });
      await c.connect();
      try {
        return await c.query(sql);
      } finally {
        await c.end();
      }
    };
    await query('CREATE TABLE t (n int)');
    await query('INSERT INTO t SELECT generate_series(1, 1000)');
    await server.restart('fast');
    await query('INSERT INTO t VALUES (0)');
    await server.restart('immediate');
    const { rows } = await query('SELECT count(*)::int AS n FROM t');
    expect(rows[0].n).toBe(1001);
    expect(server.pid()).toBeGreaterThan(0);
  });
});
