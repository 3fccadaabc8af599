import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/lib/config.ts';
import { ConfigError } from '../../src/lib/errors.ts';

describe('ops server configuration', () => {
  it('binds all interfaces and caps connections at 100 by default', () => {
    const { metrics } = parseConfig({}, { hostname: 'pod-1' });
    expect(metrics.host).toBeUndefined();
    expect(metrics.maxConnections).toBe(100);
  });

  it('honours METRICS_HOST and STREAMSINK_OPS_MAX_CONNECTIONS', () => {
    const { metrics } = parseConfig({ METRICS_HOST: '127.0.0.1', STREAMSINK_OPS_MAX_CONNECTIONS: '20' });
    expect(metrics).toMatchObject({ host: '127.0.0.1', maxConnections: 20 });
  });

  it('refuses a cap of 0 or one that is not a number', () => {
    for (const value of ['0', 'many', '1.5']) {
      expect(() => parseConfig({ STREAMSINK_OPS_MAX_CONNECTIONS: value }), value).toThrow(ConfigError);
    }
  });
});
