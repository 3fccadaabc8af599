-- streamsink schema, version 4: pipelines own their tables (docs/pipelines.md).
--
-- A pipeline's migrations (definePipeline({ migrations })) are recorded here, per pipeline, with the SHA-256
-- of their SQL so an edited released migration is refused. The built-in pipelines' tables were created by
-- versions 1 and 2 of streamsink's own schema, before pipelines owned theirs; their first migrations
-- (CREATE TABLE IF NOT EXISTS of exactly those tables) are recorded as applied here, which is what they are.
-- The checksums are those of the SQL in src/consumers/pipelines/*/ (a unit test keeps them in step).
CREATE TABLE IF NOT EXISTS streamsink_pipeline_migrations (
  pipeline text NOT NULL,
  name text NOT NULL,
  checksum text NOT NULL,
  applied_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (pipeline, name)
);

INSERT INTO streamsink_pipeline_migrations (pipeline, name, checksum) VALUES
  ('event-log', '0001-event-log', '463c13e002c0fc9f2a00475d50b709f57fad8e17caedc39bc90f49d3815eb2d7'),
  ('payments', '0001-payments', 'a9c7c71da4fdc4e573f48eae5a88b8ae71a235edd4f84b31cd36cee18a3cb549')
ON CONFLICT (pipeline, name) DO NOTHING;
