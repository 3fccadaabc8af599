-- streamsink schema, version 5: the operator console's audit trail (docs/console.md#audit).
--
-- One row per redrive or purge run from the console, written before the action (outcome 'started') and
-- completed after it: an action whose row cannot be written is not run, and a row left 'started' shows an
-- action that was interrupted (or whose completion could not be recorded). Only added; nothing older reads it.
CREATE TABLE IF NOT EXISTS streamsink_console_audit (
  id bigserial PRIMARY KEY,
  at timestamptz NOT NULL DEFAULT now(),
  actor text NOT NULL,
  role text NOT NULL,
  auth_method text NOT NULL,
  action text NOT NULL,
  stream text NOT NULL,
  selector jsonb NOT NULL,
  selected integer,
  affected integer,
  failed integer,
  outcome text NOT NULL,
  detail text,
  finished_at timestamptz
);

CREATE INDEX IF NOT EXISTS streamsink_console_audit_at ON streamsink_console_audit (at DESC, id DESC);
