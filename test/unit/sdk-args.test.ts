import { describe, expect, it } from 'vitest';
import { InvalidArgumentError, UsageError } from '../../src/lib/errors.ts';
import {
  argumentIssues,
  checkArguments,
  DLQ_LIST_OPTIONS,
  PRODUCER_OPTIONS,
  PURGE_OPTIONS,
  PURGE_SELECTOR,
  REDRIVE_OPTIONS,
  REDRIVE_SELECTOR,
  TARGET,
} from '../../src/lib/sdk-args.ts';

// A stand-in with the commands the checks look for; the checks never call them.
const redis = { exists() {}, xrange() {}, defineCommand() {}, pipeline() {} };
const target = { redis, stream: 'payments' };
const PURGE = [TARGET, PURGE_SELECTOR, PURGE_OPTIONS];
const REDRIVE = [TARGET, REDRIVE_SELECTOR, REDRIVE_OPTIONS];

function thrown(run: () => void): InvalidArgumentError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidArgumentError);
    return error as InvalidArgumentError;
  }
  throw new Error('expected an InvalidArgumentError');
}

describe('SDK argument checks', () => {
  it('names the right place for a dryRun misplaced in a purge selector', () => {
    const error = thrown(() => checkArguments('dlqPurge', PURGE, [target, { all: true, dryRun: true }]));
    expect(error.message).toBe(
      'dlqPurge: selector: unknown key "dryRun" (it belongs in options, the third argument)',
    );
    expect(error.code).toBe('invalid_argument');
    expect(error.retryable).toBe(false);
    expect(error.function).toBe('dlqPurge');
    expect(error).toBeInstanceOf(UsageError);
  });

  it('names the right place for redrive options in the selector and selector keys in the options', () => {
    const inSelector = thrown(() =>
      checkArguments('dlqRedrive', REDRIVE, [target, { reason: 'oversize', dryRun: true, limit: 5 }]),
    );
    expect(inSelector.issues).toEqual([
      { path: 'selector', message: 'unknown key "dryRun" (it belongs in options, the third argument)' },
      { path: 'selector', message: 'unknown key "limit" (it belongs in options, the third argument)' },
    ]);
    const inOptions = thrown(() =>
      checkArguments('dlqRedrive', REDRIVE, [target, { all: true }, { dryRun: true, reason: 'oversize' }]),
    );
    expect(inOptions.message).toContain(
      'options: unknown key "reason" (it belongs in the selector, the second argument)',
    );
  });

  it('accepts every well-formed call', () => {
    expect(() => checkArguments('dlqPurge', PURGE, [target, { all: true }, { dryRun: true }])).not.toThrow();
    expect(() => checkArguments('dlqPurge', PURGE, [target, { ids: ['1-0'] }])).not.toThrow();
    expect(() =>
      checkArguments('dlqPurge', PURGE, [target, { reason: 'oversize', type: 'a.b' }]),
    ).not.toThrow();
    const options = { dryRun: false, limit: 3, onProgress: () => {}, signal: new AbortController().signal };
    expect(() => checkArguments('dlqRedrive', REDRIVE, [target, { type: 'a.b' }, options])).not.toThrow();
    expect(() =>
      checkArguments(
        'dlqList',
        [TARGET, DLQ_LIST_OPTIONS],
        [
          { ...target, keyPrefix: 'x' },
          { since: new Date(), limit: 0 },
        ],
      ),
    ).not.toThrow();
    expect(() =>
      checkArguments('createProducer', [PRODUCER_OPTIONS], [{ redis, chunkSize: 1000 }]),
    ).not.toThrow();
  });

  it('refuses selectors that are not exactly one of all, ids, reason/type', () => {
    for (const selector of [
      {},
      { all: true, reason: 'oversize' },
      { ids: ['1-0'], all: true },
      { all: false },
    ]) {
      expect(argumentIssues(PURGE_SELECTOR, selector).length, JSON.stringify(selector)).toBeGreaterThan(0);
    }
    expect(argumentIssues(PURGE_SELECTOR, { ids: [] })[0]?.path).toBe('selector.ids');
  });

  it('refuses wrong types with the path of the value', () => {
    expect(argumentIssues(REDRIVE_OPTIONS, { limit: 0 })[0]?.path).toBe('options.limit');
    expect(argumentIssues(REDRIVE_OPTIONS, { dryRun: 'yes' })[0]?.path).toBe('options.dryRun');
    expect(argumentIssues(REDRIVE_OPTIONS, { signal: {} })[0]?.message).toBe('expected an AbortSignal');
    expect(argumentIssues(PURGE_SELECTOR, null)).toEqual([
      { path: 'selector', message: 'expected object, got null' },
    ]);
    expect(argumentIssues(TARGET, { redis: {}, stream: 'x' })[0]?.path).toBe('target.redis');
    expect(argumentIssues(DLQ_LIST_OPTIONS, { since: new Date('nope') })[0]?.path).toBe('options.since');
    expect(argumentIssues(PURGE_OPTIONS, undefined)).toEqual([]);
    expect(argumentIssues(PURGE_SELECTOR, undefined)[0]?.path).toBe('selector');
  });

  it('refuses purge options that purge does not have, and unknown producer options', () => {
    expect(argumentIssues(PURGE_OPTIONS, { limit: 10 })).toEqual([
      { path: 'options', message: 'unknown key "limit"' },
    ]);
    const error = thrown(() =>
      checkArguments('createProducer', [PRODUCER_OPTIONS], [{ redis, idempotence: false, chunkSize: 5000 }]),
    );
    expect(error.issues.map((i) => i.path).sort()).toEqual(['options', 'options.chunkSize']);
    expect(error.message).toContain('unknown key "idempotence"');
  });

  it('refuses an extra argument instead of ignoring it', () => {
    const error = thrown(() =>
      checkArguments('dlqPurge', PURGE, [target, { all: true }, {}, { dryRun: true }]),
    );
    expect(error.issues).toEqual([
      { path: 'argument 4', message: 'unexpected: dlqPurge takes 3 arguments (target, selector, options)' },
    ]);
  });
});
