-- streamsink schema, version 7: fencing tokens for ordered consumption of partitioned streams
-- (src/consumers/partitions/fencing.ts, docs/scaling.md#fencing).
--
-- One row per (stream, group, partition). A worker that acquires a partition's lease in Redis bumps `epoch`
-- here and remembers the value. Every batch transaction of that partition first runs
--   SELECT 1 ... WHERE (stream, consumer_group, partition) = (...) AND epoch = <mine> FOR SHARE
-- and rolls back when no row matches: a worker that lost its lease (paused past the lease TTL, partitioned
-- from Redis) can never commit after the next owner acquired. The share lock lets the owner's lanes commit in
-- parallel; the next owner's bump waits for the in-flight ones and, under READ COMMITTED, every later check
-- re-reads the bumped row. The epoch lives in Postgres, not Redis, because a Redis failover can lose an INCR.
CREATE TABLE streamsink_partition_owners (
  stream text NOT NULL,
  consumer_group text NOT NULL,
  partition integer NOT NULL,
  owner text NOT NULL,
  epoch bigint NOT NULL,
  acquired_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (stream, consumer_group, partition)
);
