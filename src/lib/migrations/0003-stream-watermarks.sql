-- streamsink schema, version 3: per (stream, group) watermarks, so `streamsink status` and the worker can
-- tell when Redis lost data that streamsink had already committed (a restart without persistence, a failover
-- to an empty replica, a deleted stream). Written by each worker's metrics sampler every few seconds, never
-- per batch: one small row per (stream, group), so concurrent batches never queue on a hot row.
--
-- committed_ms/committed_seq: the highest stream entry id whose effects a worker of the group committed
--   (`<ms>-<seq>`, as two numbers so the row comparison orders it correctly). That entry existed in the
--   stream, so the stream's last-generated-id can never be below it unless Redis lost the stream.
-- entries_added: the highest XINFO STREAM entries-added seen (Redis 7). It only grows while the stream lives
--   (trimming and XDEL leave it alone), so a smaller value means the stream was recreated, even after new
--   entries with higher, time-based ids arrived.
-- Both only ever grow: the sampler upserts with GREATEST.
CREATE TABLE streamsink_stream_watermarks (
  stream text NOT NULL,
  consumer_group text NOT NULL,
  committed_ms bigint,
  committed_seq bigint,
  entries_added bigint,
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (stream, consumer_group)
);
