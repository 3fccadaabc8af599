import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../../src/lib/config.ts';
import { ConfigError } from '../../../src/lib/errors.ts';

describe('ordered-mode settings', () => {
  it('default: the pipeline decides the ordering; the lease lives 10 s', () => {
    const { worker } = parseConfig({}, { hostname: 'pod-1' });
    expect(worker.ordering).toBeUndefined();
    expect(worker.leaseTtlMs).toBe(10_000);
  });

  it('STREAMSINK_ORDERING and STREAMSINK_LEASE_TTL_MS are read', () => {
    const { worker } = parseConfig(
      { STREAMSINK_ORDERING: 'key', STREAMSINK_LEASE_TTL_MS: '3000' },
      { hostname: 'pod-1' },
    );
    expect(worker.ordering).toBe('key');
    expect(worker.leaseTtlMs).toBe(3000);
  });

  it('names both bad values in one error', () => {
    let error: unknown;
    try {
      parseConfig({ STREAMSINK_ORDERING: 'strict', STREAMSINK_LEASE_TTL_MS: '10' }, { hostname: 'pod-1' });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const named = (error as ConfigError).issues.map((i) => i.variable).sort();
    expect(named).toEqual(['STREAMSINK_LEASE_TTL_MS', 'STREAMSINK_ORDERING']);
  });
});
