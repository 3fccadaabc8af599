import { isLoopback, startConsole } from '../console/start.ts';
import { parseConsoleConfig, redactUrl } from '../lib/config.ts';
import { ConnectionError, describeError, StreamsinkError } from '../lib/errors.ts';
import { createLogger } from '../lib/logger.ts';
import { assertSchemaCurrent } from '../lib/migrations.ts';
import { createPool } from '../lib/pg.ts';
import { createRedis } from '../lib/redis/client.ts';
import { disconnectRedis } from '../lib/redis/close.ts';
import { explainPostgres } from './connections.ts';
import { type CliContext, flagsToEnv, parseFlags } from './context.ts';

const HELP = `Usage: streamsink console [--stream S]... [--port N] [--host H] [--trust-proxy-header NAME]

Serve the operator console: streams and consumer groups (lag, pending, oldest pending, consumers,
throughput), dead letters (filter by reason, type, time and event id; page by id; counts by reason; one
entry whole), and for operators redrive and purge, each confirmed after a dry-run count and recorded in
the audit table. Off unless run; binds 127.0.0.1 unless told otherwise. Runs until SIGTERM or SIGINT.

Console access is Redis access: read docs/console.md before exposing it.

Options (each overrides its variable):
  --stream S                 a stream to show; repeat for more      STREAMSINK_CONSOLE_STREAMS (default
                                                                    STREAMSINK_STREAM)
  --port N                   port (default 9465)                    STREAMSINK_CONSOLE_PORT
  --host H                   interface (default 127.0.0.1)          STREAMSINK_CONSOLE_HOST
  --trust-proxy-header NAME  trust an authenticating reverse proxy's user header (off by default)
                                                                    STREAMSINK_CONSOLE_TRUST_PROXY_HEADER
  -h, --help                 this text

Authentication: STREAMSINK_CONSOLE_TOKENS (or STREAMSINK_CONSOLE_TOKENS_FILE), a list of name:role:token
with role viewer or operator, used as a bearer token or in the login form; with a trusted proxy header,
STREAMSINK_CONSOLE_PROXY_ROLES maps users to roles (alice:operator,*:viewer). Other settings:
STREAMSINK_CONSOLE_SECURE_COOKIE, STREAMSINK_CONSOLE_SESSION_TTL_MS, STREAMSINK_CONSOLE_MAX_REDRIVE,
STREAMSINK_CONSOLE_SAMPLE_INTERVAL_MS, REDIS_URL, DATABASE_URL (the audit table: run streamsink migrate
first), STREAMSINK_KEY_PREFIX, LOG_LEVEL.
`;

/** Reconnects like the worker's client, but a page fails after one retry instead of hanging while Redis is down. */
export const CONSOLE_REDIS = { maxRetriesPerRequest: 1 };

const FLAG_OPTIONS = {
  stream: { type: 'string', multiple: true },
  port: { type: 'string' },
  host: { type: 'string' },
  'trust-proxy-header': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

export async function run(args: string[], ctx: CliContext): Promise<number> {
  const flags = parseFlags(args, FLAG_OPTIONS, HELP) as Record<
    string,
    string | boolean | string[] | undefined
  >;
  if (flags.help === true) {
    ctx.stdout.write(HELP);
    return 0;
  }
  const streams = flags.stream as string[] | undefined;
  const env = flagsToEnv(
    ctx.env,
    {
      port: flags.port as string | undefined,
      host: flags.host as string | undefined,
      'trust-proxy-header': flags['trust-proxy-header'] as string | undefined,
      streams: streams?.join(','),
    },
    {
      port: 'STREAMSINK_CONSOLE_PORT',
      host: 'STREAMSINK_CONSOLE_HOST',
      'trust-proxy-header': 'STREAMSINK_CONSOLE_TRUST_PROXY_HEADER',
      streams: 'STREAMSINK_CONSOLE_STREAMS',
    },
  );
  const config = parseConsoleConfig(env, { readFile: ctx.readFile, hostname: ctx.hostname });
  const logger = createLogger(config.log, { pretty: ctx.interactive });
  const pool = createPool(config.postgres, {
    applicationName: `streamsink:console:${ctx.hostname}`.slice(0, 63),
    onError: (error) => logger.warn({ err: describeError(error) }, 'idle postgres connection failed'),
  });
  try {
    try {
      await assertSchemaCurrent(pool);
    } catch (error) {
      if (error instanceof StreamsinkError) throw error; // schema behind: run streamsink migrate
      const explained = explainPostgres(config.postgres, error);
      if (explained instanceof ConnectionError) throw explained;
      ctx.stderr.write(
        `streamsink console: cannot check the database schema (${describeError(error)}); ` +
          `database ${redactUrl(config.postgres.url)}\n`,
      );
      return 1;
    }
    const redis = createRedis(config.redis, {
      name: `streamsink:console:${ctx.hostname}`,
      overrides: CONSOLE_REDIS,
    });
    redis.on('error', (error: Error) =>
      logger.warn({ connection: 'redis', err: describeError(error) }, 'redis connection error'),
    );
    try {
      const handle = await startConsole({
        config: config.console,
        redis,
        keyPrefix: config.redis.keyPrefix,
        db: pool,
        logger,
      });
      if (!isLoopback(config.console.host))
        logger.warn(
          { host: config.console.host },
          'console bound beyond loopback: serve it only behind TLS, to people who may touch Redis (docs/console.md)',
        );
      logger.info({ url: handle.url, streams: config.console.streams }, 'console listening');
      ctx.stderr.write(`streamsink console: listening on ${handle.url}\n`);
      await abortion(ctx.signal);
      logger.info('console shutting down');
      await handle.close();
      return 0;
    } finally {
      disconnectRedis(redis);
    }
  } finally {
    await pool.end().catch(() => {});
    logger.flush();
  }
}

function abortion(signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
}
