import type { RedisClient as Redis } from '../../lib/redis/client.ts';
import { loadLuaScript } from '../../lib/redis/script-loader.ts';

const RENEW = loadLuaScript(new URL('./lease-renew.lua', import.meta.url));
const RELEASE = loadLuaScript(new URL('./lease-release.lua', import.meta.url));

/**
 * A partition lease in Redis: who may work a partition right now (the single-instance recipe of the Redis
 * docs: SET NX PX, compare-and-PEXPIRE, compare-and-expire). A lease alone is not safe (a paused holder does not
 * know it expired, and a failover can grant it twice); the fencing epoch in Postgres (fencing.ts) is what
 * stops a former holder's commits. The lease keeps two live workers from working one partition at once.
 */
export interface PartitionLeases {
  /** SET key token NX PX ttl: true when acquired. */
  acquire(key: string): Promise<boolean>;
  /** Extend if still ours: false means lost (expired, or another worker holds it now). */
  renew(key: string): Promise<boolean>;
  /** Delete if still ours. */
  release(key: string): Promise<boolean>;
  /** The current holders of `keys` (undefined: free), in order. One GET per key: keys live in many slots. */
  holders(keys: readonly string[]): Promise<Array<string | undefined>>;
}

export function createPartitionLeases(redis: Redis, token: string, ttlMs: number): PartitionLeases {
  return {
    async acquire(key) {
      return (await redis.set(key, token, 'PX', ttlMs, 'NX')) === 'OK';
    },
    async renew(key) {
      return Number(await RENEW.run(redis, [key], [token, ttlMs])) === 1;
    },
    async release(key) {
      return Number(await RELEASE.run(redis, [key], [token])) === 1;
    },
    async holders(keys) {
      const values = await Promise.all(keys.map((k) => redis.get(k)));
      return values.map((v) => (v ? v : undefined)); // "" is a released lease (lease-release.lua)
    },
  };
}
