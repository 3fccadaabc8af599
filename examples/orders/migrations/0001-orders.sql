-- The orders pipeline's table: one row per order, its running total and line count. Applied once by
-- `streamsink migrate --pipeline ./orders-pipeline.mjs` and recorded under the pipeline's name; never edit it
-- once released (the migration is refused when its text changed): add 0002-... instead.
CREATE TABLE orders (
  order_id text PRIMARY KEY,
  total_minor bigint NOT NULL,
  lines integer NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now()
);
