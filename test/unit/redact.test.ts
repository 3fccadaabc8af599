import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { redactUrl } from '../../src/lib/config.ts';
import { describeError, TransientError } from '../../src/lib/errors.ts';
import { createLogger } from '../../src/lib/logger.ts';
import { redactText, safeError } from '../../src/lib/redact.ts';

const USER = 'acl-user-7f3a';
const PASSWORD = 'pw-9c1e2d';

/** What ioredis rejects a command with when AUTH fails: the AUTH command itself rides along. */
function ioredisAuthError(): Error {
  const error = new Error('WRONGPASS invalid username-password pair or user is disabled.');
  error.name = 'ReplyError';
  Object.assign(error, { command: { name: 'auth', args: [USER, PASSWORD] } });
  return error;
}

/** What pg rejects a connect with when the password is wrong (a DatabaseError with SQLSTATE 28P01). */
function pgAuthError(): Error {
  const error = new Error(`password authentication failed for user "${USER}"`);
  Object.assign(error, { code: '28P01', severity: 'FATAL', routine: 'auth_failed', length: 104 });
  return error;
}

function logLines(write: (log: ReturnType<typeof createLogger>) => void): string {
  let out = '';
  const destination = new Writable({
    write(chunk, _enc, cb) {
      out += String(chunk);
      cb();
    },
  });
  write(createLogger({ level: 'info', redactPaths: [] }, { destination }));
  return out;
}

describe('redactUrl', () => {
  it('masks the user name as well as the password, and keeps the server', () => {
    expect(redactUrl(`redis://${USER}:${PASSWORD}@10.0.0.5:6379/0`)).toBe('redis://***:***@10.0.0.5:6379/0');
    expect(redactUrl(`rediss://:${PASSWORD}@redis:6380`)).toBe('rediss://:***@redis:6380');
    expect(redactUrl(`postgres://${USER}@db:5432/app`)).toBe('postgres://***@db:5432/app');
  });

  it('masks password-like query parameters', () => {
    const out = redactUrl(`postgres://db:5432/app?user=${USER}&password=${PASSWORD}&sslmode=require`);
    expect(out).not.toContain(USER);
    expect(out).not.toContain(PASSWORD);
    expect(out).toContain('sslmode=require');
  });
});

describe('redactText', () => {
  it.each([
    [`connect to redis://${USER}:${PASSWORD}@h:6379 failed`, 'redis://***:***@h:6379'],
    [`postgresql://${USER}@h/db refused`, 'postgresql://***@h/db'],
    [`bad url postgres://${USER}:p@ss:${PASSWORD}@h/db`, 'postgres://***:***@h/db'],
    [`password authentication failed for user "${USER}"`, 'for user "***"'],
    [`role "${USER}" is not permitted to log in`, 'role "***" is not permitted'],
    [`no pg_hba.conf entry for host "127.0.0.1", user "${USER}", database "x"`, 'user "***", database'],
    [`NOPERM User ${USER} has no permissions to run the 'xadd' command`, 'User *** has no permissions'],
    [`host=h user=${USER} password=${PASSWORD} dbname=x`, 'user=*** password=*** dbname=x'],
  ])('%s', (text, kept) => {
    const out = redactText(text);
    expect(out).not.toContain(USER);
    expect(out).not.toContain(PASSWORD);
    expect(out).toContain(kept);
    expect(redactText(out)).toBe(out);
  });
});

describe('describeError', () => {
  it('never carries driver fields or credentials', () => {
    expect(describeError(ioredisAuthError())).toBe(
      'ReplyError: WRONGPASS invalid username-password pair or user is disabled.',
    );
    expect(describeError(pgAuthError())).toBe('Error: password authentication failed for user "***"');
    expect(describeError(`redis://${USER}:${PASSWORD}@h`)).toBe('redis://***:***@h');
  });
});

describe('safeError and the logger', () => {
  it('keeps only allow-listed fields, following causes', () => {
    const wrapped = new TransientError('postgres connect failed', { cause: pgAuthError() });
    const safe = safeError(wrapped);
    expect(safe).toMatchObject({
      type: 'TransientError',
      code: 'transient',
      retryable: true,
      cause: { type: 'Error', code: '28P01', severity: 'FATAL', message: expect.stringContaining('"***"') },
    });
    expect(JSON.stringify(safe)).not.toContain(USER);
    const redis = safeError(ioredisAuthError());
    expect(Object.keys(redis as object).sort()).toEqual(['message', 'stack', 'type']);
  });

  it('logs an ioredis AUTH failure without its command arguments, under any key', () => {
    const out = logLines((log) => {
      log.warn({ err: ioredisAuthError() }, 'stream stats sampling failed');
      log.warn({ error: ioredisAuthError(), cause: pgAuthError() }, 'other key');
      log.error(ioredisAuthError());
      log.warn({ err: pgAuthError(), note: `to redis://${USER}:${PASSWORD}@h` }, 'pg');
      log.warn({ err: `user "${USER}"` }, 'string err');
    });
    expect(out.split('\n').filter(Boolean)).toHaveLength(5);
    expect(out).not.toContain(USER);
    expect(out).not.toContain(PASSWORD);
    expect(out).not.toContain('"command"');
    expect(out).toContain('WRONGPASS');
  });
});
