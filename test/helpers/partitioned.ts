import type pg from 'pg';
import { type Envelope, encodeEnvelope } from '../../src/lib/envelope.ts';
import { partitionOf } from '../../src/lib/partitions/partition-of.ts';
import type { StreamLayout } from '../../src/lib/partitions/stream-layout.ts';
import { masterNodes, type RedisClient } from '../../src/lib/redis/client.ts';
import { SEQUENCE_TYPE } from '../fixtures/sequence-pipeline.ts';

/**
 * Ordering tests: sequence events, a raw publisher that routes by partition (XADD to
 * `partitions[partitionOf(key, P)]`, as the producer does), and reads of the sequence checker's tables.
 */
export function sequenceEvents(keyCount: number, perKey: number, tag: string): Envelope<{ seq: number }>[] {
  const ts = new Date().toISOString();
  const events: Envelope<{ seq: number }>[] = [];
  // Interleaved (seq 1 of every key, then seq 2, ...) as real traffic is.
  for (let seq = 1; seq <= perKey; seq++)
    for (let k = 0; k < keyCount; k++)
      events.push({
        id: `${tag}-k${k}-s${seq}`,
        type: SEQUENCE_TYPE,
        v: 1,
        key: `${tag}-k${k}`,
        ts,
        data: { seq },
      });
  return events;
}

export async function publishRouted(
  redis: RedisClient,
  layout: StreamLayout,
  events: ReadonlyArray<Envelope<unknown>>,
  chunk = 1000,
): Promise<void> {
  if (layout.kind !== 'partitioned') throw new Error('publishRouted needs a partitioned stream');
  const P = layout.partitions.length;
  for (let i = 0; i < events.length; i += chunk) {
    // One pipeline per partition (a cluster pipeline must stay in one slot), each in the list's order: per
    // partition, and so per key, entries keep the order of `events`.
    const byPartition = new Map<number, Array<Envelope<unknown>>>();
    for (const e of events.slice(i, i + chunk)) {
      const p = partitionOf(e.key, P);
      const list = byPartition.get(p) ?? [];
      list.push(e);
      byPartition.set(p, list);
    }
    await Promise.all(
      [...byPartition].map(async ([p, list]) => {
        const pipe = redis.pipeline();
        for (const e of list) pipe.xadd(layout.partitions[p]?.stream as string, '*', ...encodeEnvelope(e));
        for (const [error] of (await pipe.exec()) ?? []) if (error) throw error;
      }),
    );
  }
}

export interface SequenceState {
  applied: number;
  keys: number;
  /** Keys whose last applied seq is not `perKey` or whose applied count is not `perKey`. */
  wrong: number;
  violations: number;
}

export async function sequenceState(db: pg.Pool, perKey: number): Promise<SequenceState> {
  const { rows } = await db.query<{ applied: string; keys: string; wrong: string; violations: string }>(
    `SELECT coalesce(sum(applied), 0) AS applied, count(*) AS keys,
            count(*) FILTER (WHERE last <> $1 OR applied <> $1) AS wrong,
            (SELECT count(*) FROM seq_violations) AS violations
     FROM seq_state`,
    [perKey],
  );
  const r = rows[0] as { applied: string; keys: string; wrong: string; violations: string };
  return {
    applied: Number(r.applied),
    keys: Number(r.keys),
    wrong: Number(r.wrong),
    violations: Number(r.violations),
  };
}

/** Delete every key under `prefix` on each master (the shared server keeps nothing of a test). */
export async function deletePrefixKeys(redis: RedisClient, prefix: string): Promise<void> {
  for (const node of await masterNodes(redis)) {
    let cursor = '0';
    do {
      const [next, keys] = await node.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await Promise.all(keys.map((k) => node.del(k)));
    } while (cursor !== '0');
  }
}
