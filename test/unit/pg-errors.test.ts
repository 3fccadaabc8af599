import { describe, expect, it } from 'vitest';
import { TransientError } from '../../src/lib/errors.ts';
import { MIGRATIONS, migrationLockKey, REQUIRED_SCHEMA_VERSION } from '../../src/lib/migrations.ts';
import { classifyPgError, isPostgresUnreachable, type PgErrorClass } from '../../src/lib/pg-errors.ts';

const pgError = (code: string) => Object.assign(new Error(`sqlstate ${code}`), { code });

describe('classifyPgError', () => {
  const table: Array<[string, unknown, PgErrorClass]> = [
    ['serialization failure 40001', pgError('40001'), 'transient'],
    ['deadlock 40P01', pgError('40P01'), 'transient'],
    ['admin shutdown 57P01 (pg_terminate_backend)', pgError('57P01'), 'transient'],
    ['cannot connect now 57P03', pgError('57P03'), 'transient'],
    ['connection failure 08006', pgError('08006'), 'transient'],
    ['too many connections 53300', pgError('53300'), 'transient'],
    ['lock not available 55P03 (lock_timeout)', pgError('55P03'), 'transient'],
    ['query canceled 57014 (statement_timeout)', pgError('57014'), 'transient'],
    ['idle-in-transaction session timeout 25P03', pgError('25P03'), 'transient'],
    [
      'socket ECONNREFUSED',
      Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }),
      'transient',
    ],
    ['socket ECONNRESET', Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }), 'transient'],
    ['node-postgres dropped socket', new Error('Connection terminated unexpectedly'), 'transient'],
    ['untranslatable character 22P05', pgError('22P05'), 'data'],
    ['numeric out of range 22003', pgError('22003'), 'data'],
    ['invalid datetime 22008', pgError('22008'), 'data'],
    ['unique violation 23505', pgError('23505'), 'data'],
    ['check violation 23514', pgError('23514'), 'data'],
    ['undefined table 42P01', pgError('42P01'), 'systemic'],
    ['permission denied 42501', pgError('42501'), 'systemic'],
    ['invalid password 28P01', pgError('28P01'), 'systemic'],
    ['schema does not exist 3F000', pgError('3F000'), 'systemic'],
    ['raise_exception from a trigger P0001', pgError('P0001'), 'other'],
    ['internal error XX000', pgError('XX000'), 'other'],
    ['a plain Error', new Error('boom'), 'other'],
    ['a string', 'boom', 'other'],
    ['null', null, 'other'],
  ];
  it.each(table)('%s -> %s', (_name, error, expected) => {
    expect(classifyPgError(error)).toBe(expected);
  });
});

describe('isPostgresUnreachable', () => {
  const table: Array<[string, unknown, boolean]> = [
    ['connection failure 08006', pgError('08006'), true],
    ['admin shutdown 57P01', pgError('57P01'), true],
    ['cannot connect now 57P03', pgError('57P03'), true],
    ['socket ECONNREFUSED', Object.assign(new Error('refused'), { code: 'ECONNREFUSED' }), true],
    ['node-postgres dropped socket', new Error('Connection terminated unexpectedly'), true],
    [
      'the sink wrapping a refused connection',
      new TransientError('postgres connect failed', {
        cause: Object.assign(new Error('refused'), { code: 'ECONNREFUSED' }),
      }),
      true,
    ],
    // Postgres answers: it is reachable, the work is stuck (liveness may fail).
    ['lock timeout 55P03', pgError('55P03'), false],
    ['statement timeout 57014', pgError('57014'), false],
    ['the sink wrapping a lock timeout', new TransientError('postgres', { cause: pgError('55P03') }), false],
    ['deadlock 40P01', pgError('40P01'), false],
    ['undefined table 42P01', pgError('42P01'), false],
    ['a plain Error', new Error('boom'), false],
    ['nothing', undefined, false],
  ];
  it.each(table)('%s -> %s', (_name, error, expected) => {
    expect(isPostgresUnreachable(error)).toBe(expected);
  });
});

describe('migrations', () => {
  it('derives a stable, per-schema advisory lock key that fits a signed bigint', () => {
    const a = migrationLockKey('public');
    expect(migrationLockKey('public')).toBe(a);
    expect(migrationLockKey('tenant_a')).not.toBe(a);
    const n = BigInt(a);
    expect(n >= -(2n ** 63n) && n < 2n ** 63n).toBe(true);
  });

  it('lists versions strictly increasing, the last being the required one', () => {
    const versions = MIGRATIONS.map((m) => m.version);
    expect(versions).toEqual([...versions].sort((x, y) => x - y));
    expect(new Set(versions).size).toBe(versions.length);
    expect(REQUIRED_SCHEMA_VERSION).toBe(versions.at(-1));
  });
});
