import { PartitionFencedError } from '../../lib/errors.ts';
import type { Queryable } from '../../lib/pg.ts';

/**
 * The fencing token of ordered consumption (migration 0007, docs/scaling.md#fencing): an epoch per
 * (stream, group, partition) in Postgres, bumped by each new owner, checked by every batch transaction.
 */
export interface PartitionRef {
  stream: string;
  group: string;
  partition: number;
}

export interface Fence extends PartitionRef {
  epoch: number;
}

/**
 * Called right after this worker acquired the partition's lease: bump the epoch and take it. The UPDATE waits
 * for the former owner's in-flight batch transactions (they hold the row FOR SHARE); once it commits, none of
 * theirs can commit any more.
 */
export async function acquireEpoch(db: Queryable, ref: PartitionRef, owner: string): Promise<Fence> {
  const { rows } = await db.query<{ epoch: string }>(
    `INSERT INTO streamsink_partition_owners AS o (stream, consumer_group, partition, owner, epoch)
     VALUES ($1, $2, $3, $4, 1)
     ON CONFLICT (stream, consumer_group, partition)
     DO UPDATE SET epoch = o.epoch + 1, owner = EXCLUDED.owner, acquired_at = now()
     RETURNING epoch`,
    [ref.stream, ref.group, ref.partition, owner],
  );
  return { ...ref, epoch: Number(rows[0]?.epoch) };
}

/**
 * First statement of each batch transaction of a fenced partition: the epoch must still be ours. FOR SHARE so
 * that lanes of the same owner commit in parallel while a new owner's bump waits for them; under READ
 * COMMITTED a check that waited behind the bump re-reads the bumped row and finds no match.
 */
export async function checkEpoch(tx: Queryable, fence: Fence): Promise<void> {
  const { rowCount } = await tx.query(
    `SELECT 1 FROM streamsink_partition_owners
     WHERE stream = $1 AND consumer_group = $2 AND partition = $3 AND epoch = $4 FOR SHARE`,
    [fence.stream, fence.group, fence.partition, fence.epoch],
  );
  if (rowCount !== 1) throw new PartitionFencedError(fence.stream, fence.partition, fence.epoch);
}
