import { describe, expect, it } from 'vitest';
import {
  parseConfig,
  parseDlqConfig,
  parseMigrateConfig,
  parsePublishConfig,
  parseStatusConfig,
  parseWorkerConfig,
} from '../../src/lib/config.ts';
import { ConfigError } from '../../src/lib/errors.ts';

function badVariables(parse: () => unknown): string[] {
  try {
    parse();
  } catch (error) {
    if (error instanceof ConfigError) return error.issues.map((i) => i.variable);
    throw error;
  }
  throw new Error('expected a ConfigError');
}

const noFile = () => {
  throw Object.assign(new Error('no such file'), { code: 'ENOENT' });
};

// Bad values of every concern; each command must trip over exactly the ones it reads.
const BAD = {
  REDIS_URL: 'http://nope',
  STREAMSINK_STREAM: 'has space',
  STREAMSINK_GROUP: 'has space',
  DATABASE_URL: 'mysql://x',
  STREAMSINK_PG_LOCK_TIMEOUT_MS: 'soon',
  STREAMSINK_PIPELINE: 'x'.repeat(2000),
  STREAMSINK_PAYMENTS_CURRENCIES: 'euro',
  STREAMSINK_MAXLEN: 'lots',
  STREAMSINK_BATCH_SIZE: 'abc',
  LOG_LEVEL: 'loud',
  METRICS_PORT: '-1',
};

describe('one config schema per command', () => {
  it('publish reads Redis, the stream and the producer settings only', () => {
    expect(badVariables(() => parsePublishConfig(BAD)).sort()).toEqual([
      'REDIS_URL',
      'STREAMSINK_MAXLEN',
      'STREAMSINK_STREAM',
    ]);
    const config = parsePublishConfig({ STREAMSINK_BATCH_SIZE: 'abc', STREAMSINK_STREAM: 'orders' });
    expect(config).toEqual({
      redis: { url: 'redis://127.0.0.1:6379', keyPrefix: 'streamsink' },
      stream: 'orders',
      producer: { dedupeWindowMs: 86_400_000, maxPayloadBytes: 1_048_576, maxLen: undefined },
    });
  });

  it('dlq reads Redis and the stream only', () => {
    expect(badVariables(() => parseDlqConfig(BAD)).sort()).toEqual(['REDIS_URL', 'STREAMSINK_STREAM']);
    expect(parseDlqConfig({ STREAMSINK_MAXLEN: 'lots' }).stream).toBe('events');
  });

  it('status reads Redis, stream, group and the Postgres session, and checks the timeouts against each other', () => {
    expect(badVariables(() => parseStatusConfig(BAD)).sort()).toEqual([
      'DATABASE_URL',
      'REDIS_URL',
      'STREAMSINK_GROUP',
      'STREAMSINK_PG_LOCK_TIMEOUT_MS',
      'STREAMSINK_STREAM',
    ]);
    expect(
      badVariables(() =>
        parseStatusConfig({
          STREAMSINK_PG_LOCK_TIMEOUT_MS: '40000',
          STREAMSINK_PG_STATEMENT_TIMEOUT_MS: '30000',
        }),
      ),
    ).toEqual(['STREAMSINK_PG_LOCK_TIMEOUT_MS']);
    expect(parseStatusConfig({ STREAMSINK_BATCH_SIZE: 'abc' }).postgres.poolSize).toBe(1);
  });

  it('migrate reads the database, and the pipeline settings only when it migrates a pipeline', () => {
    expect(badVariables(() => parseMigrateConfig(BAD))).toEqual(['DATABASE_URL']);
    expect(badVariables(() => parseMigrateConfig(BAD, { withPipeline: true })).sort()).toEqual([
      'DATABASE_URL',
      'STREAMSINK_PAYMENTS_CURRENCIES',
      'STREAMSINK_PIPELINE',
    ]);
    expect(parseMigrateConfig({ STREAMSINK_PIPELINE: 'payments' }, { withPipeline: true }).pipeline).toEqual({
      name: 'payments',
      payments: { currencies: ['EUR', 'USD', 'GBP'] },
    });
    expect(parseMigrateConfig({ STREAMSINK_PIPELINE: 'payments' }).pipeline).toBeUndefined();
  });

  it('a secret file is read only by a command that uses the secret', () => {
    const env = { DATABASE_URL_FILE: '/run/secrets/db' };
    expect(parsePublishConfig(env, { readFile: noFile }).stream).toBe('events');
    expect(parseDlqConfig(env, { readFile: noFile }).stream).toBe('events');
    expect(badVariables(() => parseStatusConfig(env, { readFile: noFile }))).toEqual(['DATABASE_URL_FILE']);
  });

  it('the worker reads everything, as parseConfig always did', () => {
    expect(parseWorkerConfig).toBe(parseConfig);
    expect(badVariables(() => parseWorkerConfig(BAD)).sort()).toEqual(Object.keys(BAD).sort());
  });
});
