import { Writable } from 'node:stream';
import { Redis } from 'ioredis';
import { CONSOLE_REDIS } from '../../src/cli/console.ts';
import { type ConsoleHandle, startConsole } from '../../src/console/start.ts';
import type { ConsoleConfig, ConsoleToken } from '../../src/lib/config.ts';
import { createLogger } from '../../src/lib/logger.ts';
import { migrate } from '../../src/lib/migrations.ts';
import { createPool, type Pool } from '../../src/lib/pg.ts';
import { createRedis } from '../../src/lib/redis/client.ts';
import type { StreamKeys } from '../../src/lib/redis/keys.ts';
import { type SeedBad, seedDeadLetters } from './dead-letters.ts';
import { createTestSchema, type TestSchema } from './pg.ts';

/**
 * A console over a fresh key prefix (a seeded dead-letter stream) and a fresh, migrated Postgres schema, on a
 * free loopback port; plus a small cookie-keeping HTTP client that behaves like a same-origin browser form.
 */

export const TOKENS: ConsoleToken[] = [
  { name: 'olivia', role: 'operator', token: 'op-token-0123456789abcdef' },
  { name: 'victor', role: 'viewer', token: 'viewer-token-0123456789abcdef' },
];

export interface TestConsole {
  url: string;
  redis: Redis;
  pool: Pool;
  schema: TestSchema;
  keys: StreamKeys;
  prefix: string;
  stream: string;
  /** Every log line the console wrote. */
  logs: string[];
  close(): Promise<void>;
}

export async function startTestConsole(options: {
  redisUrl: string;
  databaseUrl: string;
  bad: readonly SeedBad[];
  config?: Partial<ConsoleConfig>;
  /** Leave the schema unmigrated (no audit table). */
  unmigrated?: boolean;
  /** The console's own Redis connection goes here (a fault-injecting proxy), set up as the command does. */
  consoleRedisUrl?: string;
  /** Key prefix (default: a fresh one). */
  prefix?: string;
}): Promise<TestConsole> {
  const redis = new Redis(options.redisUrl);
  const { prefix, stream, keys } = await seedDeadLetters(redis, options.bad, {
    ...(options.prefix ? { prefix: options.prefix } : {}),
  });
  const schema = await createTestSchema(options.databaseUrl, 'console');
  const pool = createPool({ url: schema.url, poolSize: 2 });
  if (!options.unmigrated) await migrate(pool);
  const logs: string[] = [];
  const destination = new Writable({
    write(chunk, _enc, done) {
      logs.push(String(chunk));
      done();
    },
  });
  const logger = createLogger({ level: 'debug', redactPaths: [] }, { destination });
  let handle: ConsoleHandle | undefined;
  const consoleRedis = options.consoleRedisUrl
    ? createRedis({ url: options.consoleRedisUrl, keyPrefix: prefix }, { overrides: CONSOLE_REDIS })
    : redis;
  if (consoleRedis !== redis) consoleRedis.on('error', () => {});
  try {
    handle = await startConsole({
      config: {
        port: 0,
        host: '127.0.0.1',
        streams: [stream],
        tokens: TOKENS,
        trustProxyHeader: undefined,
        proxyRoles: new Map(),
        secureCookie: 'auto',
        sessionTtlMs: 3_600_000,
        maxRedrive: 10_000,
        sampleIntervalMs: 500,
        ...options.config,
      },
      redis: consoleRedis,
      keyPrefix: prefix,
      db: pool,
      logger,
    });
  } catch (error) {
    await pool.end();
    await schema.drop();
    redis.disconnect();
    throw error;
  }
  const h = handle;
  return {
    url: h.url,
    redis,
    pool,
    schema,
    keys,
    prefix,
    stream,
    logs,
    async close() {
      await h.close();
      if (consoleRedis !== redis) consoleRedis.disconnect();
      await redis.del(keys.stream, keys.deadLetter);
      redis.disconnect();
      await pool.end();
      await schema.drop();
    },
  };
}

export interface Reply {
  status: number;
  headers: Headers;
  body: string;
}

/** A cookie jar over fetch, no redirects followed (tests look at them). Sends Sec-Fetch-Site: same-origin. */
export class FormClient {
  readonly cookies = new Map<string, string>();
  readonly base: string;
  readonly extraHeaders: Record<string, string>;
  constructor(base: string, extraHeaders: Record<string, string> = {}) {
    this.base = base;
    this.extraHeaders = extraHeaders;
  }

  async get(path: string, headers: Record<string, string> = {}): Promise<Reply> {
    return this.send('GET', path, undefined, headers);
  }

  async post(
    path: string,
    form: Record<string, string | string[]>,
    headers: Record<string, string> = {},
  ): Promise<Reply> {
    const body = new URLSearchParams();
    for (const [k, v] of Object.entries(form)) for (const item of [v].flat()) body.append(k, item);
    return this.send('POST', path, body, {
      'content-type': 'application/x-www-form-urlencoded',
      'sec-fetch-site': 'same-origin',
      ...headers,
    });
  }

  /** Log in through the form. */
  async login(token: string): Promise<Reply> {
    const form = await this.get('/login');
    return this.post('/login', { _csrf: csrfOf(form.body), token, next: '/' });
  }

  private async send(
    method: string,
    path: string,
    body: URLSearchParams | undefined,
    headers: Record<string, string>,
  ) {
    const cookie = [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
    const res = await fetch(new URL(path, this.base), {
      method,
      body,
      redirect: 'manual',
      headers: { accept: 'text/html', ...this.extraHeaders, ...(cookie ? { cookie } : {}), ...headers },
    });
    for (const line of res.headers.getSetCookie()) {
      const [pair] = line.split(';');
      const eq = pair?.indexOf('=') ?? -1;
      if (!pair || eq < 0) continue;
      const value = pair.slice(eq + 1);
      if (value === '' || /max-age=0|expires=thu, 01 jan 1970/i.test(line))
        this.cookies.delete(pair.slice(0, eq));
      else this.cookies.set(pair.slice(0, eq), value);
    }
    return { status: res.status, headers: res.headers, body: await res.text() };
  }
}

/** The CSRF token of the first form on a page. */
export function csrfOf(html: string): string {
  const m = /name="_csrf" value="([^"]+)"/.exec(html);
  if (!m?.[1]) throw new Error(`no CSRF token on the page: ${html.slice(0, 300)}`);
  return m[1];
}
