import { describe, expect, it } from 'vitest';
import {
  parseDlqConfig,
  parsePublishConfig,
  parseStatusConfig,
  parseStreamConfig,
  parseStreamCreateConfig,
  parseWorkerConfig,
} from '../../src/lib/config.ts';
import { ConfigError } from '../../src/lib/errors.ts';

function issues(parse: () => unknown): Array<{ variable: string; expected: string }> {
  try {
    parse();
  } catch (error) {
    if (error instanceof ConfigError)
      return error.issues.map((i) => ({ variable: i.variable, expected: i.expected }));
    throw error;
  }
  throw new Error('expected a ConfigError');
}

describe('REDIS_CLUSTER_NODES', () => {
  it('every command that talks to Redis takes the seed nodes; unset means a single node', () => {
    const env = {
      REDIS_CLUSTER_NODES: '10.0.0.1:6379, redis-1.svc:7000,redis-2:7001',
      STREAMSINK_STREAM: 's',
    };
    const nodes = [
      { host: '10.0.0.1', port: 6379 },
      { host: 'redis-1.svc', port: 7000 },
      { host: 'redis-2', port: 7001 },
    ];
    for (const parse of [
      parseWorkerConfig,
      parsePublishConfig,
      parseDlqConfig,
      parseStatusConfig,
      parseStreamConfig,
    ])
      expect(parse(env).redis.clusterNodes).toEqual(nodes);
    expect(parsePublishConfig({}).redis.clusterNodes).toBeUndefined();
    expect(parsePublishConfig({ REDIS_CLUSTER_NODES: '' }).redis.clusterNodes).toBeUndefined();
  });

  it('refuses entries that are not host:port, naming the variable with the other bad ones', () => {
    for (const bad of ['redis-1', 'redis-1:0', 'redis-1:70000', 'redis://a:1', ' , ']) {
      const found = issues(() => parsePublishConfig({ REDIS_CLUSTER_NODES: bad, REDIS_URL: 'http://x' }));
      expect(found.map((i) => i.variable).sort(), bad).toEqual(['REDIS_CLUSTER_NODES', 'REDIS_URL']);
    }
  });
});

describe('stream create config', () => {
  it('takes the partition count from STREAMSINK_PARTITIONS (what --partitions sets), 1..1024', () => {
    expect(parseStreamCreateConfig({ STREAMSINK_STREAM: 'o', STREAMSINK_PARTITIONS: '64' })).toMatchObject({
      stream: 'o',
      partitions: 64,
    });
    for (const bad of ['0', '1025', 'many', '2.5']) {
      const found = issues(() =>
        parseStreamCreateConfig({ STREAMSINK_PARTITIONS: bad, STREAMSINK_STREAM: 'a b' }),
      );
      expect(found.map((i) => i.variable).sort(), bad).toEqual([
        'STREAMSINK_PARTITIONS',
        'STREAMSINK_STREAM',
      ]);
    }
    // `stream describe` and the other commands never look at it.
    expect(parseStreamConfig({ STREAMSINK_PARTITIONS: 'many' }).stream).toBe('events');
    expect(() => parsePublishConfig({ STREAMSINK_PARTITIONS: 'many' })).not.toThrow();
  });
});
