import { createRequire } from 'node:module';
import pino, { type Logger } from 'pino';
import type { LogConfig } from './config.ts';
import { redactText, redactUrl, safeError } from './redact.ts';

export type { Logger };

/**
 * Logging contract (docs/metrics.md#logs): one logger per process, built here by the composition root and
 * passed down; components log through children carrying `stream`, `group`, `consumer`; a line about a message
 * carries `eventId` and `entryId` (see {@link messageFields}); payloads only when LOG_LEVEL is debug or trace.
 */

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

/**
 * Top-level keys that hold message content. Above debug they are replaced with a note whatever their
 * content, so a careless `log.warn({ payload }, ...)` cannot leak card numbers into a log pipeline.
 */
export const PAYLOAD_KEYS = ['payload', 'data', 'fields', 'envelope'] as const;
export const PAYLOAD_OMITTED = '[omitted: payloads are logged only at LOG_LEVEL=debug]';

export interface CreateLoggerOptions {
  /** Where JSON lines go; defaults to stdout. Tests pass a stream to capture them. */
  destination?: pino.DestinationStream;
  /** Pretty-print for humans (stdout is a terminal). Falls back to JSON when pino-pretty is not installed. */
  pretty?: boolean;
  /** File descriptor for output when no destination is given: 1 (stdout, default) or 2 (stderr). */
  fd?: 1 | 2;
}

/**
 * Build the one logger of the process. Secrets and configured payload paths (`STREAMSINK_LOG_REDACT_PATHS`,
 * e.g. `data.card.pan`) are censored everywhere; URL-valued secrets keep their host with the password masked,
 * which is what an operator needs to see which server is meant.
 */
export function createLogger(config: LogConfig, options: CreateLoggerOptions = {}): Logger {
  const redactPaths = [
    ...BASE_REDACT_PATHS,
    ...config.redactPaths,
    ...config.redactPaths.map((p) => `*.${p}`),
  ];
  const payloadsAllowed = config.level === 'debug' || config.level === 'trace';
  const base: pino.LoggerOptions = {
    level: config.level,
    base: { service: 'streamsink' },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: redactPaths, censor: censorValue },
    formatters: { level: (label) => ({ level: label }), log: scrubFields },
    serializers: { err: serializeError },
    hooks: payloadsAllowed ? {} : { logMethod: omitPayloads },
  };
  const fd = options.fd ?? 1;
  if (options.pretty && !options.destination && prettyInstalled()) {
    return pino({ ...base, transport: { target: 'pino-pretty', options: { destination: fd } } });
  }
  return pino(base, options.destination ?? pino.destination({ dest: fd, sync: false }));
}

/** Fields of a log line about one message: ids only, never content. */
export function messageFields(
  entryId: string,
  envelope?: { id?: string; type?: string },
): {
  entryId: string;
  eventId?: string;
  eventType?: string;
} {
  return { entryId, eventId: envelope?.id, eventType: envelope?.type };
}

/** pino-pretty is a dev dependency: absent from the production image, where JSON is what we want anyway. */
export function prettyInstalled(): boolean {
  try {
    createRequire(import.meta.url).resolve('pino-pretty');
    return true;
  } catch {
    return false;
  }
}

function censorValue(value: unknown): string {
  if (typeof value === 'string' && /^[a-z][a-z0-9+.-]*:\/\//i.test(value)) return redactUrl(value);
  return '[redacted]';
}

/**
 * Errors are logged as allow-listed fields with scrubbed text (src/lib/redact.ts), never as the driver's
 * object: ioredis hangs the failed command on its errors, and AUTH's arguments are the user and password.
 */
function serializeError(error: unknown): unknown {
  return typeof error === 'string' ? redactText(error) : safeError(error);
}

/**
 * The same rule for every other top-level field: an Error under any key is serialized safely, and a string
 * (an error description, a host) loses any credential it quotes. `err` has its serializer.
 */
function scrubFields(object: Record<string, unknown>): Record<string, unknown> {
  let out: Record<string, unknown> | undefined;
  for (const [key, value] of Object.entries(object)) {
    if (key === 'err') continue;
    let safe: unknown = value;
    if (value instanceof Error) safe = safeError(value);
    else if (typeof value === 'string') safe = redactText(value);
    if (safe !== value) {
      out ??= { ...object };
      out[key] = safe;
    }
  }
  return out ?? object;
}

function omitPayloads(this: Logger, args: Parameters<pino.LogFn>, method: pino.LogFn): void {
  const [first] = args;
  if (first !== null && typeof first === 'object' && !(first instanceof Error)) {
    const obj = first as Record<string, unknown>;
    if (PAYLOAD_KEYS.some((k) => k in obj)) {
      const copy: Record<string, unknown> = { ...obj };
      for (const k of PAYLOAD_KEYS) if (k in copy) copy[k] = PAYLOAD_OMITTED;
      (args as unknown[])[0] = copy;
    }
  }
  method.apply(this, args);
}
