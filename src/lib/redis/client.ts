import { Cluster, type ClusterOptions, Redis, type RedisOptions } from 'ioredis';
import type { RedisConfig } from '../config.ts';

export type { Cluster, Redis };

/**
 * A connection to one Redis node or to a Redis Cluster (REDIS_CLUSTER_NODES). Both speak the same commands;
 * on a cluster every command, pipeline, MULTI and Lua script must touch keys of one slot, which holds for
 * streamsink's keys (src/lib/redis/keys.ts: a stream's keys share a hash tag). Commands that concern a server
 * rather than a key (INFO, CONFIG, CLIENT, SCAN) go to one node only: use {@link masterNodes} for those.
 */
export type RedisClient = Redis | Cluster;

export interface CreateRedisOptions {
  /** Connection name shown in CLIENT LIST, e.g. `streamsink:worker:pod-1:reader`. */
  name?: string;
  /**
   * Extra ioredis options (tests lower retry timings). On a cluster they apply to each node's connection,
   * except `retryStrategy`, which becomes the cluster's `clusterRetryStrategy`.
   */
  overrides?: RedisOptions;
}

const retryStrategy = (times: number) => Math.min(50 * 2 ** Math.min(times, 6), 2000);

/**
 * How long `disconnect()` lets a socket close by itself before destroying it (ioredis' default is 2000 ms).
 * The timer is ref'd and, on a socket that was already closed when a reconnecting client is disconnected, it
 * always runs out: it is the last thing a worker stopping during a Redis outage waits for. A healthy socket
 * closes within a round trip; a half-open one is destroyed after this, which also reconnects sooner.
 */
const DISCONNECT_TIMEOUT_MS = 500;

/**
 * One ioredis connection (or one cluster client, with its connection per node). Commands wait in ioredis'
 * offline queue during a reconnect rather than failing at once; callers that must not wait forever bound them
 * with their own timeouts.
 */
export function createRedis(config: RedisConfig, options: CreateRedisOptions = {}): RedisClient {
  if (config.clusterNodes !== undefined) return createCluster(config, options);
  return new Redis(config.url, {
    connectionName: options.name,
    lazyConnect: false,
    enableAutoPipelining: false,
    maxRetriesPerRequest: null,
    retryStrategy,
    disconnectTimeout: DISCONNECT_TIMEOUT_MS,
    ...options.overrides,
  });
}

function createCluster(config: RedisConfig, options: CreateRedisOptions): Cluster {
  const { retryStrategy: nodeRetry, ...overrides } = options.overrides ?? {};
  const clusterOptions: ClusterOptions = {
    lazyConnect: false,
    enableAutoPipelining: false,
    // MOVED/ASK redirections are followed; TRYAGAIN (a multi-key command during a slot migration) and
    // CLUSTERDOWN are retried after these delays, so a resharding looks like a short pause.
    maxRedirections: 16,
    retryDelayOnTryAgain: 100,
    retryDelayOnClusterDown: 100,
    retryDelayOnFailover: 100,
    clusterRetryStrategy: nodeRetry === undefined ? retryStrategy : nodeRetry,
    redisOptions: {
      ...credentialsOf(config.url),
      connectionName: options.name,
      maxRetriesPerRequest: null,
      disconnectTimeout: DISCONNECT_TIMEOUT_MS,
      ...overrides,
    },
  };
  return new Cluster(
    (config.clusterNodes ?? []).map((n) => ({ host: n.host, port: n.port })),
    clusterOptions,
  );
}

/** User name, password and TLS of REDIS_URL, for each node of a cluster. */
function credentialsOf(url: string): Pick<RedisOptions, 'username' | 'password' | 'tls'> {
  const parsed = new URL(url);
  return {
    ...(parsed.username === '' ? {} : { username: decodeURIComponent(parsed.username) }),
    ...(parsed.password === '' ? {} : { password: decodeURIComponent(parsed.password) }),
    ...(parsed.protocol === 'rediss:' ? { tls: {} } : {}),
  };
}

export function isCluster(redis: RedisClient): redis is Cluster {
  return redis instanceof Cluster;
}

/** A second client to the same server(s) with the same options, e.g. for the worker's read loop. */
export function duplicateClient(redis: RedisClient, name: string, overrides: RedisOptions = {}): RedisClient {
  if (isCluster(redis)) {
    return redis.duplicate([], {
      redisOptions: { ...redis.options.redisOptions, ...overrides, connectionName: name },
    });
  }
  return redis.duplicate({ ...overrides, connectionName: name });
}

/**
 * The connections to run a per-server command on (INFO, CONFIG GET, CLIENT ...): the client itself on a single
 * node, each master's connection on a cluster (once its slot map is known).
 */
export async function masterNodes(redis: RedisClient): Promise<Redis[]> {
  if (!isCluster(redis)) return [redis];
  // A keyless command waits until the client has connected and loaded the slot map.
  await redis.ping();
  return redis.nodes('master');
}
