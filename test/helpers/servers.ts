import net from 'node:net';

/**
 * Where the integration tests find Redis and Postgres, in this order:
 *   1. REDIS_URL / DATABASE_URL from the environment;
 *   2. containers started by testcontainers (redis:7, postgres:16) when a Docker engine answers;
 *   3. servers answering on the default local ports (127.0.0.1:6379, 127.0.0.1:5432);
 *   4. otherwise a clear error naming the three ways.
 */
export interface TestServers {
  redisUrl: string;
  databaseUrl: string;
  source: 'environment' | 'testcontainers' | 'local';
  stop: () => Promise<void>;
}

export const LOCAL_REDIS_URL = 'redis://127.0.0.1:6379';
export const LOCAL_DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/postgres';

export async function resolveTestServers(env: NodeJS.ProcessEnv): Promise<TestServers> {
  if (env.REDIS_URL && env.DATABASE_URL) {
    return {
      redisUrl: env.REDIS_URL,
      databaseUrl: env.DATABASE_URL,
      source: 'environment',
      stop: async () => {},
    };
  }
  const containers = await tryTestcontainers();
  if (containers) return containers;
  const [redisUp, pgUp] = await Promise.all([portOpen('127.0.0.1', 6379), portOpen('127.0.0.1', 5432)]);
  if (redisUp && pgUp) {
    return {
      redisUrl: env.REDIS_URL ?? LOCAL_REDIS_URL,
      databaseUrl: env.DATABASE_URL ?? LOCAL_DATABASE_URL,
      source: 'local',
      stop: async () => {},
    };
  }
  throw new Error(
    'integration tests need Redis >= 7 and Postgres, and found neither way to reach them:\n' +
      '  1. set REDIS_URL and DATABASE_URL (e.g. redis://127.0.0.1:6379 and postgres://postgres@127.0.0.1:5432/postgres), or\n' +
      '  2. make a Docker engine reachable, and testcontainers will start redis:7 and postgres:16, or\n' +
      `  3. run them on the default local ports (Redis 127.0.0.1:6379 ${redisUp ? 'is up' : 'is down'}, ` +
      `Postgres 127.0.0.1:5432 ${pgUp ? 'is up' : 'is down'}).`,
  );
}

async function tryTestcontainers(): Promise<TestServers | undefined> {
  let tc: typeof import('testcontainers');
  try {
    tc = await import('testcontainers');
    await tc.getContainerRuntimeClient();
  } catch {
    return undefined; // no Docker engine: fall through to local servers
  }
  const { RedisContainer } = await import('@testcontainers/redis');
  const { PostgreSqlContainer } = await import('@testcontainers/postgresql');
  const [redis, postgres] = await Promise.all([
    new RedisContainer('redis:7').start(),
    new PostgreSqlContainer('postgres:16').start(),
  ]);
  return {
    redisUrl: redis.getConnectionUrl(),
    databaseUrl: postgres.getConnectionUri(),
    source: 'testcontainers',
    stop: async () => {
      await Promise.all([redis.stop(), postgres.stop()]);
    },
  };
}

export function portOpen(host: string, port: number, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}
