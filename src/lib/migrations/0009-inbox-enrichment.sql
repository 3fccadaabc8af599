-- streamsink schema, version 9: what a pipeline's enrich stage returned is kept with the event.
--
-- A pipeline that calls other services before its transaction (definePipeline({ enrich })) records each
-- event's result here, in the same transaction as the event's effects. A redelivery of the event (or a replay)
-- reuses it instead of calling the service again (docs/load-management.md#enrichment). NULL for pipelines
-- without enrich and for rows written before this version. Adding a nullable column without a default is
-- a catalogue change only: no table rewrite, and older workers keep writing rows without it.
ALTER TABLE streamsink_inbox ADD COLUMN IF NOT EXISTS enrichment jsonb;
