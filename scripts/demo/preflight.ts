import { existsSync } from 'node:fs';
import path from 'node:path';
import { Redis } from 'ioredis';
import pg from 'pg';
import { redactUrl } from '../../src/lib/redact.ts';

/**
 * Before starting anything: are Redis and Postgres there? Which Postgres URL to use (DATABASE_URL, else the
 * documented default, else the one `docker compose up -d redis postgres` gives with this repo's compose.yaml),
 * and when nothing answers, a message that says how to start them.
 */

export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';
export const DEFAULT_DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/postgres';
/** compose.yaml's postgres service, published on 127.0.0.1:5432. */
export const COMPOSE_DATABASE_URL = 'postgres://streamsink:streamsink@127.0.0.1:5432/streamsink';

export interface Reachability {
  url: string;
  error?: string;
}

export async function probeRedis(url: string): Promise<Reachability> {
  const redis = new Redis(url, {
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    connectTimeout: 3000,
    enableOfflineQueue: false,
  });
  // The socket's own error (ECONNREFUSED) says more than the "Connection is closed." connect() rejects with.
  let socketError: unknown;
  redis.on('error', (error) => {
    socketError ??= error;
  });
  try {
    await redis.connect();
    await redis.ping();
    return { url };
  } catch (error) {
    return { url, error: describe(socketError ?? error) };
  } finally {
    redis.disconnect();
  }
}

export async function probePostgres(url: string): Promise<Reachability> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3000 });
  client.on('error', () => {});
  try {
    await client.connect();
    await client.query('SELECT 1');
    return { url };
  } catch (error) {
    return { url, error: describe(error) };
  } finally {
    await client.end().catch(() => {});
  }
}

/** DATABASE_URL when set (only it is tried); else the default, then compose.yaml's. The first that answers. */
export async function findPostgres(
  env: NodeJS.ProcessEnv,
): Promise<{ chosen?: string; tried: Reachability[] }> {
  const candidates = env.DATABASE_URL ? [env.DATABASE_URL] : [DEFAULT_DATABASE_URL, COMPOSE_DATABASE_URL];
  const tried: Reachability[] = [];
  for (const url of candidates) {
    const result = await probePostgres(url);
    if (!result.error) return { chosen: url, tried };
    tried.push(result);
  }
  return { tried };
}

function describe(error: unknown): string {
  const e = error as { code?: string; message?: string; errors?: Array<{ code?: string }> };
  const code = e.code ?? e.errors?.[0]?.code;
  const message = String(e.message ?? error).split('\n')[0] ?? '';
  return code && !message.includes(code) ? `${code}: ${message}` : message || String(code);
}

/** Pure: what to tell the user when Redis or Postgres does not answer. */
export function unreachableHelp(input: {
  redis: Reachability;
  postgres: Reachability[];
  databaseUrlSet: boolean;
  redisUrlSet: boolean;
  composeFile: boolean;
}): string {
  const lines = ['streamsink demo: cannot start, a server does not answer:'];
  if (input.redis.error) lines.push(`  Redis     ${redactUrl(input.redis.url)}: ${input.redis.error}`);
  for (const p of input.postgres) lines.push(`  Postgres  ${redactUrl(p.url)}: ${p.error}`);
  lines.push('', 'Start them, then run `npm run demo` again. Any one of:');
  if (input.composeFile) {
    lines.push(
      '  - with Docker or Podman, from this directory (compose.yaml: Redis 7 and Postgres 16 on 127.0.0.1):',
      '      docker compose up -d --wait redis postgres',
      // compose.yaml's development password is no secret: it is in the file.
      `    the demo then finds Postgres at ${COMPOSE_DATABASE_URL} by itself` +
        (input.databaseUrlSet ? ' (unset DATABASE_URL, or set it to that)' : ''),
    );
  }
  lines.push(
    '  - on Debian or Ubuntu: sudo apt-get install redis-server postgresql, then',
    '      sudo -u postgres psql -c "ALTER USER postgres PASSWORD \'postgres\'" and',
    '      DATABASE_URL=postgres://postgres:postgres@127.0.0.1:5432/postgres npm run demo',
    '  - point the demo at servers you have (Redis 7 or later, Postgres 14 or later):',
    '      REDIS_URL=redis://host:6379 DATABASE_URL=postgres://user:password@host:5432/db npm run demo',
  );
  if (input.redisUrlSet || input.databaseUrlSet)
    lines.push('', 'REDIS_URL / DATABASE_URL are set in this shell: the demo used them as given.');
  return `${lines.join('\n')}\n`;
}

export function hasComposeFile(root: string): boolean {
  return ['compose.yaml', 'compose.yml', 'docker-compose.yml', 'docker-compose.yaml'].some((f) =>
    existsSync(path.join(root, f)),
  );
}
