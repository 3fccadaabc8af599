import type { PipelineMigration } from '../../define-pipeline.ts';

/**
 * The payments pipeline's tables. Installations migrated before pipelines owned their tables got them from
 * streamsink's schema versions 1-2 (src/lib/migrations/0001-initial.sql), hence IF NOT EXISTS: there this
 * migration is recorded and changes nothing.
 *
 * status_rank orders the lifecycle (1 authorized < 2 captured < 3 refunded) and only ever rises (GREATEST on
 * upsert), so the final row does not depend on arrival order; status is derived from it so the two can never
 * disagree. A bigint balance overflow raises a class-22 error, which isolates the event as poison.
 */
export const PAYMENTS_MIGRATIONS: readonly PipelineMigration[] = [
  {
    name: '0001-payments',
    sql: `
CREATE TABLE IF NOT EXISTS payments (
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
CREATE TABLE IF NOT EXISTS account_balances (
  account_id text NOT NULL,
  currency text NOT NULL,
  balance_minor bigint NOT NULL DEFAULT 0,
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (account_id, currency)
);`,
  },
];
