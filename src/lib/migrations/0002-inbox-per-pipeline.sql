-- streamsink schema, version 2: dedupe state belongs to the pipeline, the archive keeps every stream's event.
-- (docs/postgres.md#identity, #upgrading-to-schema-2)
--
-- Schema 1 keyed the inbox by (consumer group, event id) and event_log by event id alone. With every group
-- named `streamsink` by default, a payments worker and an archive worker on two streams shared dedupe state:
-- an event id seen by one was silently acknowledged as a "duplicate" by the other, and the archive kept only
-- one of two streams' events with the same id.
--
-- Safe while workers run. This runs in one transaction; a schema-1 worker's statement either commits before it
-- (its rows are adopted below, see adoptLegacyInbox) or runs after it and fails with "relation does not exist"
-- / "no unique constraint matching ON CONFLICT" (SQLSTATE class 42). Those are systemic errors to streamsink:
-- the old worker rolls back, acknowledges nothing, dead-letters nothing and retries until it is replaced by a
-- schema-2 worker, which then applies those entries exactly once.

-- The new inbox: keyed by pipeline, with the content hash that tells a duplicate from an id conflict.
CREATE TABLE streamsink_inbox (
  pipeline text NOT NULL,
  event_id text NOT NULL,
  -- SHA-256 of the event's canonical content (type, v, key, data). NULL for rows adopted from schema 1,
  -- whose content was never recorded: a later delivery of such an id counts as a duplicate.
  content_hash bytea CHECK (octet_length(content_hash) = 32),
  stream text NOT NULL,
  entry_id text NOT NULL,
  event_type text NOT NULL,
  processed_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (pipeline, event_id)
);

-- The schema-1 inbox stays, frozen, until every group has adopted its rows. Renaming it is what stops a
-- schema-1 worker from recording anything more in it (see above).
ALTER TABLE streamsink_processed RENAME TO streamsink_processed_v1;
ALTER TABLE streamsink_processed_v1 RENAME CONSTRAINT streamsink_processed_pkey TO streamsink_processed_v1_pkey;

-- Which (group, stream) had its schema-1 rows adopted, and by which pipeline: once each.
CREATE TABLE streamsink_inbox_adoptions (
  consumer_group text NOT NULL,
  stream text NOT NULL,
  pipeline text NOT NULL,
  adopted_rows bigint NOT NULL,
  adopted_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (consumer_group, stream)
);

-- The archive keeps every stream's event: one row per (stream, event id).
ALTER TABLE event_log DROP CONSTRAINT event_log_pkey;
ALTER TABLE event_log ADD PRIMARY KEY (stream, event_id);
