-- streamsink schema, version 6: a proof per applied event (docs/proof.md).
--
-- Three nullable columns on the inbox, written by the worker in the same transaction as the effects:
--   input_hash        SHA-256 of the canonical envelope (type, v, key, data, id, ts; not stream or entry id)
--   pipeline_version  the pipeline's version that applied the event
--   proof             SHA-256 over the canonical {pipeline@version, input_hash, effects}
-- NULL for rows written before this version (and by workers of an older build, see below).
--
-- Safe while older workers run: adding a column without a default changes only the catalog (no rewrite),
-- and an older worker's INSERT names its columns, so its rows simply get NULL here. The checks are added
-- NOT VALID: enforced for new rows without scanning the existing ones under the table lock.
ALTER TABLE streamsink_inbox
  ADD COLUMN input_hash bytea,
  ADD COLUMN pipeline_version text,
  ADD COLUMN proof bytea;
ALTER TABLE streamsink_inbox
  ADD CONSTRAINT streamsink_inbox_input_hash_check CHECK (octet_length(input_hash) = 32) NOT VALID,
  ADD CONSTRAINT streamsink_inbox_proof_check CHECK (octet_length(proof) = 32) NOT VALID;
