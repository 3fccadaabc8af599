import { ConnectionError, describeError } from './errors.ts';
import { redactUrl } from './redact.ts';

/**
 * Why a connection to Redis or Postgres failed, decided from the driver's error by code (Node's system error
 * codes, TLS codes, SQLSTATE, Redis' error prefix), and what an operator should check for each. Pure, so the
 * CLI and the worker say the same thing and a unit test covers every case without servers.
 */
export type Service = 'redis' | 'postgres';
export type FailureKind = 'auth' | 'tls' | 'unreachable' | 'timeout';

const UNREACHABLE = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
  'ECONNRESET',
  'EPIPE',
]);
/** Redis: a refused AUTH (wrong password, unknown or disabled ACL user) or no AUTH where one is needed. */
const REDIS_AUTH = /^(WRONGPASS|NOAUTH|ERR invalid password|ERR AUTH <password> called without)/;
/** Postgres: 28P01 invalid_password, 28000 invalid_authorization_specification (unknown role, NOLOGIN). */
const PG_AUTH = new Set(['28P01', '28000']);
const TLS_MESSAGE = /certificate|\bSSL\b|\bTLS\b|self.signed|handshake/i;

export function classifyConnectionFailure(service: Service, error: unknown): FailureKind | undefined {
  if (!(error instanceof Error)) return undefined;
  const code = (error as { code?: unknown }).code;
  if (service === 'redis' && REDIS_AUTH.test(error.message)) return 'auth';
  if (service === 'postgres' && typeof code === 'string' && PG_AUTH.has(code)) return 'auth';
  if (typeof code === 'string') {
    if (UNREACHABLE.has(code)) return 'unreachable';
    if (code === 'ETIMEDOUT') return 'timeout';
    if (/^(ERR_SSL_|ERR_TLS_|EPROTO$)|CERT|SELF_SIGNED|UNABLE_TO_(GET|VERIFY)/.test(code)) return 'tls';
  }
  if (TLS_MESSAGE.test(error.message)) return 'tls';
  if (/ETIMEDOUT|timeout|timed out/i.test(error.message)) return 'timeout';
  if (/ECONNREFUSED|ENOTFOUND|EHOSTUNREACH/.test(error.message)) return 'unreachable';
  return undefined;
}

const VARIABLE: Record<Service, string> = { redis: 'REDIS_URL', postgres: 'DATABASE_URL' };
const NAME: Record<Service, string> = { redis: 'Redis', postgres: 'Postgres' };

/** What failed, in words, and what to check. */
export function connectionHint(service: Service, kind: FailureKind): { what: string; check: string } {
  const variable = `${VARIABLE[service]} (or ${VARIABLE[service]}_FILE)`;
  switch (kind) {
    case 'auth':
      return {
        what: 'the server refused the credentials',
        check:
          service === 'redis'
            ? `check the user name and password in ${variable} and that the ACL user exists and is enabled`
            : `check the user name and password in ${variable} and that the role exists and may log in`,
      };
    case 'tls':
      return {
        what: 'the TLS handshake failed',
        check:
          service === 'redis'
            ? `check the scheme in ${variable} (rediss:// needs a TLS port) and that the server's certificate is trusted (NODE_EXTRA_CA_CERTS)`
            : `check sslmode in ${variable} against the server's ssl setting, and that its certificate is trusted`,
      };
    case 'timeout':
      return {
        what: 'the connection timed out',
        check: `check the host and port in ${variable}, firewalls, and that the server is not overloaded`,
      };
    default:
      return {
        what: 'the server cannot be reached',
        check: `check the host and port in ${variable} and that ${NAME[service]} is running and reachable from here`,
      };
  }
}

/**
 * One line for an operator when `error` is a connection or credential failure, or undefined when it is
 * something else. `url` is shown with its user name and password masked.
 */
export function toConnectionError(
  service: Service,
  url: string,
  error: unknown,
): ConnectionError | undefined {
  const kind = classifyConnectionFailure(service, error);
  if (kind === undefined) return undefined;
  const { what, check } = connectionHint(service, kind);
  const detail = describeError(error, 200).replace(/^(Error|ReplyError|DatabaseError): /, '');
  return new ConnectionError(
    service,
    kind,
    `cannot connect to ${NAME[service]} at ${redactUrl(url)}: ${what} (${detail}); ${check}`,
    kind === 'unreachable' || kind === 'timeout',
    { cause: error },
  );
}
