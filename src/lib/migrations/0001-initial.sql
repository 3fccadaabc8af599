-- streamsink schema, version 1. Tables are created unqualified, in the connection's current schema
-- (search_path), so one database can hold several independent installations (and tests, one per schema).

-- The inbox: one row per (consumer group, event) whose effects were committed. It is written in the same
-- transaction as those effects, so an event redelivered, reclaimed or published twice changes nothing the
-- second time. It is keyed by group, not by event id alone: two groups on one stream (say an event-log
-- archive and the payments projection) are independent consumers, and each must apply every event once.
CREATE TABLE streamsink_processed (
  consumer_group text NOT NULL,
  event_id text NOT NULL,
  stream text NOT NULL,
  entry_id text NOT NULL,
  event_type text NOT NULL,
  processed_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (consumer_group, event_id)
);

-- The event-log pipeline: every event archived as it was published.
CREATE TABLE event_log (
  event_id text PRIMARY KEY,
  stream text NOT NULL,
  entry_id text NOT NULL,
  type text NOT NULL,
  v integer NOT NULL,
  key text NOT NULL,
  occurred_at timestamptz NOT NULL,
  payload jsonb NOT NULL,
  processed_at timestamptz NOT NULL DEFAULT now()
);

-- The payments pipeline. status_rank orders the lifecycle (1 authorized < 2 captured < 3 refunded) and only
-- ever rises (GREATEST on upsert), so the final row does not depend on arrival order; status is derived from
-- it so the two can never disagree.
CREATE TABLE payments (
  payment_id text PRIMARY KEY,
  account_id text NOT NULL,
  currency text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
  amount_minor bigint NOT NULL CHECK (amount_minor > 0),
  status_rank smallint NOT NULL CHECK (status_rank BETWEEN 1 AND 3),
  status text GENERATED ALWAYS AS (
    CASE status_rank WHEN 1 THEN 'authorized' WHEN 2 THEN 'captured' ELSE 'refunded' END
  ) STORED,
  updated_at timestamptz NOT NULL DEFAULT now()
);

-- Balances per account and currency: +amount on capture, -amount on refund. A bigint overflow raises a
-- class-22 error, which isolates the offending event as poison instead of wrapping around.
CREATE TABLE account_balances (
  account_id text NOT NULL,
  currency text NOT NULL,
  balance_minor bigint NOT NULL DEFAULT 0,
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (account_id, currency)
);
