import type { RedisClient as Redis } from '../../lib/redis/client.ts';

/**
 * Who is reading a partitioned stream in order, for one group: a ZSET of member ids scored by their last
 * heartbeat (ms). A member is live while its heartbeat is younger than `deadAfterMs`; older ones are removed
 * by whoever beats next. Clock skew between hosts shifts liveness by the skew: keep clocks in sync (NTP), as
 * for any lease (docs/scaling.md).
 */
export interface Membership {
  /** Record this member's heartbeat and return the live members (this one included). */
  beat(nowMs: number): Promise<string[]>;
  /** Leave at once (shutdown), so the others take over without waiting for the heartbeat to age. */
  leave(): Promise<void>;
}

export function createMembership(redis: Redis, key: string, member: string, deadAfterMs: number): Membership {
  return {
    async beat(nowMs) {
      const reply = await redis
        .multi()
        .zadd(key, nowMs, member)
        .zremrangebyscore(key, '-inf', `(${nowMs - deadAfterMs}`)
        .zrangebyscore(key, nowMs - deadAfterMs, '+inf')
        .pexpire(key, Math.max(60_000, deadAfterMs * 10))
        .exec();
      const live = reply?.[2]?.[1];
      if (!Array.isArray(live)) throw new Error('membership heartbeat returned no member list');
      return live as string[];
    },
    async leave() {
      await redis.zrem(key, member);
    },
  };
}
