import pino, { type Logger } from 'pino';
import type { LogConfig } from './config.ts';

export type { Logger };

/** Paths always redacted: connection strings and anything that looks like a credential. */
export const BASE_REDACT_PATHS = [
  'redisUrl',
  'databaseUrl',
  '*.redisUrl',
  '*.databaseUrl',
  'password',
  '*.password',
  'config.redis.url',
  'config.postgres.url',
  'authorization',
  '*.authorization',
];

export interface CreateLoggerOptions {
  /** Where JSON lines go; defaults to stdout. Tests pass a stream to capture them. */
  destination?: pino.DestinationStream;
  /** Pretty-print for humans (stdout is a terminal and pino-pretty is installed). */
  pretty?: boolean;
}

/**
 * Build the one logger of the process. Payloads are never logged above debug; configured payload paths
 * (`STREAMSINK_LOG_REDACT_PATHS`, e.g. `data.card.pan`) are censored everywhere.
 */
export function createLogger(config: LogConfig, options: CreateLoggerOptions = {}): Logger {
  const redactPaths = [
    ...BASE_REDACT_PATHS,
    ...config.redactPaths,
    ...config.redactPaths.map((p) => `*.${p}`),
  ];
  const base: pino.LoggerOptions = {
    level: config.level,
    base: { service: 'streamsink' },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: redactPaths, censor: '[redacted]' },
    formatters: { level: (label) => ({ level: label }) },
  };
  if (options.pretty && !options.destination) {
    return pino({ ...base, transport: { target: 'pino-pretty', options: { destination: 2 } } });
  }
  return pino(base, options.destination ?? pino.destination({ dest: 1, sync: false }));
}
