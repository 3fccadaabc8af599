import type { Redis } from 'ioredis';
import type pg from 'pg';
import { dlqStats } from '../../src/admin/dlq.ts';
import type { StreamKeys } from '../../src/lib/redis/keys.ts';

/** One look at the demo's stream, group, dead letters and Postgres: what the live view shows. */
export interface DemoSnapshot {
  atMs: number;
  published: number;
  /** Events of this run recorded as applied in Postgres (the inbox: one row per applied event). */
  applied: number;
  /** Entries not yet delivered to the group; null when Redis cannot tell. */
  lag: number | null;
  /** Delivered, not yet acknowledged. */
  pending: number;
  deadLetters: number;
  deadLettersByReason: Record<string, number>;
}

export async function readSnapshot(input: {
  redis: Redis;
  db: pg.Pool;
  keys: StreamKeys;
  keyPrefix: string;
  group: string;
  runId: string;
  published: number;
}): Promise<DemoSnapshot> {
  const [groups, applied, dlq] = await Promise.all([
    input.redis.xinfo('GROUPS', input.keys.stream).catch(() => []) as Promise<unknown[]>,
    input.db.query<{ n: string }>(
      `SELECT count(*) AS n FROM streamsink_inbox WHERE pipeline = 'payments' AND stream = $1 AND event_id LIKE $2`,
      [input.keys.name, `demo-${input.runId}-%`],
    ),
    dlqStats({ redis: input.redis, stream: input.keys.name, keyPrefix: input.keyPrefix }).catch(
      () => undefined,
    ),
  ]);
  const group = groups.map((g) => toRecord(g as unknown[])).find((g) => g.name === input.group);
  return {
    atMs: Date.now(),
    published: input.published,
    applied: Number(applied.rows[0]?.n ?? 0),
    lag: group?.lag === null || group?.lag === undefined ? null : Number(group.lag),
    pending: Number(group?.pending ?? 0),
    deadLetters: dlq?.total ?? 0,
    deadLettersByReason: dlq?.byReason ?? {},
  };
}

function toRecord(flat: unknown[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) out[String(flat[i])] = flat[i + 1];
  return out;
}
