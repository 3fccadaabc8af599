import { describe, expect, it } from 'vitest';
import { CONFIG_VARIABLES, parseConfig, redactUrl } from '../../src/lib/config.ts';
import { ConfigError } from '../../src/lib/errors.ts';
import { sessionParameters } from '../../src/lib/pg.ts';

function configError(env: Record<string, string>, readFile?: (path: string) => string): ConfigError {
  try {
    parseConfig(env, { readFile, hostname: 'pod-1' });
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

describe('parseConfig', () => {
  it('gives documented defaults for an empty environment', () => {
    const config = parseConfig({}, { hostname: 'pod-1' });
    expect(config.redis).toEqual({ url: 'redis://127.0.0.1:6379', keyPrefix: 'streamsink' });
    expect(config.postgres.url).toBe('postgres://postgres@127.0.0.1:5432/postgres');
    expect(config.producer).toEqual({
      dedupeWindowMs: 86_400_000,
      maxPayloadBytes: 1_048_576,
      maxLen: undefined,
    });
    expect(config.worker.consumer).toBe('pod-1');
    expect(config.worker.stream).toBe('events');
    expect(config.log.level).toBe('info');
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('sets the Postgres session timeouts and the progress deadline by default, and lets 0 turn a timeout off', () => {
    const config = parseConfig({});
    expect(config.postgres.sessionTimeouts).toEqual({
      lockTimeoutMs: 5000,
      statementTimeoutMs: 30_000,
      idleInTransactionTimeoutMs: 30_000,
    });
    expect(config.metrics.progressDeadlineMs).toBe(300_000);
    const off = parseConfig({
      STREAMSINK_PG_LOCK_TIMEOUT_MS: '0',
      STREAMSINK_PG_STATEMENT_TIMEOUT_MS: '0',
      STREAMSINK_PG_IDLE_IN_TX_TIMEOUT_MS: '0',
    });
    expect(off.postgres.sessionTimeouts).toEqual({
      lockTimeoutMs: 0,
      statementTimeoutMs: 0,
      idleInTransactionTimeoutMs: 0,
    });
    expect(sessionParameters(off.postgres.sessionTimeouts)).toEqual({});
    expect(sessionParameters(config.postgres.sessionTimeouts)).toEqual({
      lock_timeout: 5000,
      statement_timeout: 30_000,
      idle_in_transaction_session_timeout: 30_000,
    });
  });

  it('wants the lock timeout below the statement timeout, so a lock wait reports as one', () => {
    const error = configError({
      STREAMSINK_PG_LOCK_TIMEOUT_MS: '30000',
      STREAMSINK_PG_STATEMENT_TIMEOUT_MS: '30000',
    });
    expect(error.issues).toEqual([
      expect.objectContaining({
        variable: 'STREAMSINK_PG_LOCK_TIMEOUT_MS',
        expected: 'less than STREAMSINK_PG_STATEMENT_TIMEOUT_MS (30000)',
      }),
    ]);
    expect(() =>
      parseConfig({ STREAMSINK_PG_LOCK_TIMEOUT_MS: '60000', STREAMSINK_PG_STATEMENT_TIMEOUT_MS: '0' }),
    ).not.toThrow();
  });

  it('parses values, booleans the way people write them, and lists', () => {
    const config = parseConfig({
      STREAMSINK_DEDUPE_WINDOW_MS: '60000',
      STREAMSINK_MAXLEN: '100000',
      STREAMSINK_AUTO_MIGRATE: 'false',
      STREAMSINK_DEFAULT_METRICS: 'no',
      STREAMSINK_PAYMENTS_CURRENCIES: 'EUR, CHF',
      STREAMSINK_CONSUMER: 'worker-7',
      LOG_LEVEL: '',
    });
    expect(config.producer).toEqual({ dedupeWindowMs: 60_000, maxPayloadBytes: 1_048_576, maxLen: 100_000 });
    expect(config.worker.autoMigrate).toBe(false);
    expect(config.metrics.defaultMetrics).toBe(false);
    expect(config.payments.currencies).toEqual(['EUR', 'CHF']);
    expect(config.worker.consumer).toBe('worker-7');
    expect(config.log.level).toBe('info');
  });

  it('names every bad value in one error, with what was expected and what was given', () => {
    const error = configError({
      REDIS_URL: 'http://localhost:6379',
      LOG_LEVEL: 'loud',
      METRICS_PORT: '70000',
      STREAMSINK_BATCH_SIZE: 'lots',
      STREAMSINK_AUTO_MIGRATE: 'maybe',
      STREAMSINK_STREAM: 'has space',
      STREAMSINK_PAYMENTS_CURRENCIES: 'euro',
      STREAMSINK_DEDUPE_WINDOW_MS: '5',
    });
    expect(error.code).toBe('config_invalid');
    expect(error.retryable).toBe(false);
    const named = error.issues.map((i) => i.variable).sort();
    expect(named).toEqual(
      [
        'LOG_LEVEL',
        'METRICS_PORT',
        'REDIS_URL',
        'STREAMSINK_AUTO_MIGRATE',
        'STREAMSINK_BATCH_SIZE',
        'STREAMSINK_DEDUPE_WINDOW_MS',
        'STREAMSINK_PAYMENTS_CURRENCIES',
        'STREAMSINK_STREAM',
      ].sort(),
    );
    for (const variable of named) expect(error.message).toContain(`  - ${variable}: expected `);
    expect(error.message).toContain('got "loud"');
    expect(error.message).toContain('got "70000"');
    expect(error.message).toContain('a redis:// or rediss:// URL');
    expect(error.message).not.toMatch(/\n\s+at /);
  });

  it('checks cross-field rules', () => {
    const error = configError({ STREAMSINK_BATCH_SIZE: '600', STREAMSINK_MAX_IN_FLIGHT: '500' });
    expect(error.issues).toEqual([
      expect.objectContaining({
        variable: 'STREAMSINK_BATCH_SIZE',
        expected: 'at most STREAMSINK_MAX_IN_FLIGHT (500)',
      }),
    ]);
  });

  it('reads secrets from *_FILE, trimmed', () => {
    const files: Record<string, string> = {
      '/run/secrets/redis': 'redis://:s3cret@redis.internal:6379\n',
      '/run/secrets/db': 'postgres://app:pw@db:5432/app\n',
    };
    const config = parseConfig(
      { REDIS_URL_FILE: '/run/secrets/redis', DATABASE_URL_FILE: '/run/secrets/db' },
      { readFile: (p) => files[p] ?? '' },
    );
    expect(config.redis.url).toBe('redis://:s3cret@redis.internal:6379');
    expect(config.postgres.url).toBe('postgres://app:pw@db:5432/app');
  });

  it('refuses a secret given both directly and as a file, and an unreadable file, in the same message', () => {
    const error = configError(
      {
        REDIS_URL: 'redis://127.0.0.1:6379',
        REDIS_URL_FILE: '/run/secrets/redis',
        DATABASE_URL_FILE: '/missing',
        LOG_LEVEL: 'loud',
      },
      (path) => {
        throw Object.assign(new Error(`ENOENT: ${path}`), { code: 'ENOENT' });
      },
    );
    expect(error.issues.map((i) => i.variable).sort()).toEqual([
      'DATABASE_URL_FILE',
      'LOG_LEVEL',
      'REDIS_URL_FILE',
    ]);
    expect(error.message).toContain(
      'REDIS_URL_FILE: expected only one of REDIS_URL and REDIS_URL_FILE, got both set',
    );
    expect(error.message).toContain('DATABASE_URL_FILE: expected a readable file, got /missing (ENOENT)');
  });

  it('never shows a secret in the error message, from the environment or from a file', () => {
    const direct = configError({ DATABASE_URL: 'mysql://app:hunter2@db/app', LOG_LEVEL: 'x' });
    expect(direct.message).toContain('DATABASE_URL');
    expect(direct.message).not.toContain('hunter2');
    const fromFile = configError({ REDIS_URL_FILE: '/s' }, () => 'http://:topsecret@redis:6379');
    expect(fromFile.message).toContain('REDIS_URL');
    expect(fromFile.message).not.toContain('topsecret');
  });

  it('redactUrl hides the password and survives garbage', () => {
    expect(redactUrl('redis://user:pw@host:6379/0')).toBe('redis://***:***@host:6379/0');
    expect(redactUrl('redis://host:6379')).toBe('redis://host:6379');
    expect(redactUrl('not a url :pw@')).toBe('(unparseable URL)');
  });

  it('lists the variables it understands', () => {
    expect(CONFIG_VARIABLES).toContain('REDIS_URL');
    expect(CONFIG_VARIABLES).toContain('STREAMSINK_DEDUPE_WINDOW_MS');
  });
});
