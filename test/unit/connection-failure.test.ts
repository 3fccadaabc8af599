import { describe, expect, it } from 'vitest';
import { classifyConnectionFailure, toConnectionError } from '../../src/lib/connection-failure.ts';
import { ConnectionError } from '../../src/lib/errors.ts';

const withCode = (message: string, code: string) => Object.assign(new Error(message), { code });

describe('classifyConnectionFailure', () => {
  it.each([
    ['redis', new Error('WRONGPASS invalid username-password pair or user is disabled.'), 'auth'],
    ['redis', new Error('NOAUTH Authentication required.'), 'auth'],
    ['redis', withCode('connect ECONNREFUSED 127.0.0.1:1', 'ECONNREFUSED'), 'unreachable'],
    ['redis', withCode('getaddrinfo ENOTFOUND redis', 'ENOTFOUND'), 'unreachable'],
    ['redis', withCode('connect ETIMEDOUT', 'ETIMEDOUT'), 'timeout'],
    ['redis', withCode('self-signed certificate', 'DEPTH_ZERO_SELF_SIGNED_CERT'), 'tls'],
    ['redis', withCode('wrong version number', 'ERR_SSL_WRONG_VERSION_NUMBER'), 'tls'],
    ['postgres', withCode('password authentication failed for user "x"', '28P01'), 'auth'],
    ['postgres', withCode('role "x" is not permitted to log in', '28000'), 'auth'],
    ['postgres', new Error('The server does not support SSL connections'), 'tls'],
    ['postgres', new Error('Connection terminated due to connection timeout'), 'timeout'],
    ['postgres', withCode('relation "x" does not exist', '42P01'), undefined],
    ['redis', new Error('NOPERM this user has no permissions to run the xadd command'), undefined],
  ] as const)('%s: %s -> %s', (service, error, kind) => {
    expect(classifyConnectionFailure(service, error)).toBe(kind);
  });
});

describe('toConnectionError', () => {
  it('is one line naming the server without secrets and what to check', () => {
    const error = toConnectionError(
      'postgres',
      'postgres://app-user:hunter2@db.internal:5432/app',
      withCode('password authentication failed for user "app-user"', '28P01'),
    );
    expect(error).toBeInstanceOf(ConnectionError);
    expect(error?.code).toBe('connection_failed');
    expect(error?.retryable).toBe(false);
    expect(error?.message).toBe(
      'cannot connect to Postgres at postgres://***:***@db.internal:5432/app: the server refused the ' +
        'credentials (password authentication failed for user "***"); check the user name and password in ' +
        'DATABASE_URL (or DATABASE_URL_FILE) and that the role exists and may log in',
    );
    expect(error?.message).not.toContain('\n');
  });

  it('leaves other errors alone, and marks an unreachable server retryable', () => {
    expect(toConnectionError('redis', 'redis://h:6379', new Error('ERR unknown command'))).toBeUndefined();
    const down = toConnectionError(
      'redis',
      'redis://h:6379',
      withCode('connect ECONNREFUSED', 'ECONNREFUSED'),
    );
    expect(down?.retryable).toBe(true);
  });
});
