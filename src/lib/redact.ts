/**
 * Keeping secrets out of every line streamsink writes (logs, CLI messages, dead-letter error text, probe
 * bodies). Two rules, applied at the few places text leaves the process rather than at each call site:
 *
 * - Text is scrubbed of the shapes a secret takes in driver messages: the user info of a URL (user name and
 *   password), `password=` style parameters, and the user or role a Postgres or Redis message names.
 * - An error becomes an object of allow-listed fields only. Drivers hang their own state on errors (ioredis
 *   puts the failed command on `command`, AUTH's being `["user", "password"]`); a deny-list misses the next
 *   such field, an allow-list cannot.
 */

const MASK = '***';

/**
 * A URL with its user name and password replaced (`redis://***:***@host:6379/0`), and password-like query
 * parameters too: fit for logs and error messages, and still says which server is meant. The user name is
 * masked as well: it is half of a credential, and an ACL user name tells an attacker what to guess at.
 */
export function redactUrl(value: string): string {
  try {
    const url = new URL(value);
    if (url.username) url.username = MASK;
    if (url.password) url.password = MASK;
    for (const key of [...url.searchParams.keys()])
      if (SECRET_PARAM.test(key)) url.searchParams.set(key, MASK);
    return url.toString();
  } catch {
    return '(unparseable URL)';
  }
}

/** Query or keyword parameters that carry a credential (libpq's `password`, `sslpassword`, `user`). */
const SECRET_PARAM = /^(password|sslpassword|pass|passwd|user|username|token|secret)$/i;

/** `scheme://userinfo@` up to the last `@` before the path: user names and passwords, encoded or not. */
const URL_USERINFO = /\b([a-z][a-z0-9+.-]*:\/\/)([^\s/?#]*)@/gi;
/** `password=...` in a URL query or a libpq keyword string. */
const SECRET_ASSIGNMENT = /\b(password|sslpassword|passwd|user|username)=([^\s&;,'"]+)/gi;
/**
 * The user or role a server names in a refusal: Postgres' `password authentication failed for user "x"`,
 * `role "x" does not exist`, `no pg_hba.conf entry for host "h", user "x", ...`; Redis 7.2's
 * `NOPERM User x has no permissions ...`.
 */
const QUOTED_USER = /\b(user|role) "(?:[^"]|"")*"/gi;
const REDIS_ACL_USER = /\b(User) \S+ (has no permissions)/g;

/** Text with every credential shape this module knows masked. Idempotent. */
export function redactText(text: string): string {
  return text
    .replace(URL_USERINFO, (_m, scheme: string, info: string) =>
      info.includes(':') ? `${scheme}${MASK}:${MASK}@` : `${scheme}${MASK}@`,
    )
    .replace(SECRET_ASSIGNMENT, `$1=${MASK}`)
    .replace(QUOTED_USER, `$1 "${MASK}"`)
    .replace(REDIS_ACL_USER, `$1 ${MASK} $2`);
}

/**
 * Fields of an error that are safe and useful to log: what failed and where, never driver state. Node's
 * system errors (`code`, `errno`, `syscall`, `address`, `port`), Postgres' SQLSTATE `code`, `severity` and
 * `routine`, and streamsink's own `code`, `retryable` and `reason`.
 */
const SAFE_SCALARS = [
  'code',
  'errno',
  'syscall',
  'address',
  'port',
  'severity',
  'routine',
  'retryable',
  'reason',
] as const;

export interface SafeError {
  type: string;
  message: string;
  stack?: string;
  cause?: SafeError | string;
  errors?: Array<SafeError | string>;
  [field: string]: unknown;
}

/**
 * An error as a plain object of allow-listed fields with scrubbed text: the logger's `err` serializer.
 * `cause` and an AggregateError's `errors` (Node's happy-eyeballs connect) are followed a few levels deep.
 */
export function safeError(error: unknown, depth = 0): SafeError | string {
  if (!isErrorLike(error)) return redactText(String(error)).slice(0, 2000);
  const ctor = error instanceof Error ? error.constructor?.name : undefined;
  const out: SafeError = {
    type: ctor && ctor !== 'Object' ? ctor : typeof error.name === 'string' ? error.name : 'Error',
    message: redactText(error.message),
  };
  if (typeof error.stack === 'string') out.stack = redactText(error.stack);
  const fields = error as Record<string, unknown>;
  for (const key of SAFE_SCALARS) {
    const value = fields[key];
    if (typeof value === 'string') out[key] = redactText(value);
    else if (typeof value === 'number' || typeof value === 'boolean') out[key] = value;
  }
  if (depth < 3) {
    if (fields.cause !== undefined) out.cause = safeError(fields.cause, depth + 1);
    if (Array.isArray(fields.errors))
      out.errors = fields.errors.slice(0, 5).map((e) => safeError(e, depth + 1));
  }
  return out;
}

/** An Error, or an object shaped like one (a rejected value from a library that does not subclass Error). */
function isErrorLike(value: unknown): value is { message: string; name?: unknown; stack?: unknown } {
  return (
    value instanceof Error ||
    (typeof value === 'object' &&
      value !== null &&
      typeof (value as { message?: unknown }).message === 'string')
  );
}
