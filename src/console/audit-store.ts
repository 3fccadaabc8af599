import type { Queryable } from '../lib/pg.ts';
import type { Principal } from './auth.ts';

/**
 * The console's audit trail in Postgres (migration 5). An action is recorded before it runs and completed
 * after: if the first write fails the action is refused, so nothing the console does goes unrecorded.
 */

export type AuditAction = 'redrive' | 'purge';
export type AuditOutcome = 'started' | 'done' | 'failed';

export interface AuditRow {
  id: string;
  at: Date;
  actor: string;
  role: string;
  authMethod: string;
  action: AuditAction;
  stream: string;
  selector: unknown;
  selected: number | null;
  affected: number | null;
  failed: number | null;
  outcome: AuditOutcome;
  detail: string | null;
  finishedAt: Date | null;
}

export interface AuditStore {
  /** Record an action about to run; returns the row id. Throws when Postgres cannot take it. */
  begin(entry: {
    principal: Principal;
    action: AuditAction;
    stream: string;
    selector: unknown;
  }): Promise<string>;
  finish(
    id: string,
    result: {
      outcome: 'done' | 'failed';
      selected?: number;
      affected?: number;
      failed?: number;
      detail?: string;
    },
  ): Promise<void>;
  /** One row, or undefined. */
  get(id: string): Promise<AuditRow | undefined>;
  /** Newest first; `before` pages by row id. */
  list(options: { limit: number; before?: string | undefined }): Promise<AuditRow[]>;
}

const TABLE = 'streamsink_console_audit';

export function createAuditStore(db: Queryable): AuditStore {
  return {
    async begin({ principal, action, stream, selector }) {
      const { rows } = await db.query<{ id: string }>(
        `INSERT INTO ${TABLE} (actor, role, auth_method, action, stream, selector, outcome)
         VALUES ($1, $2, $3, $4, $5, $6, 'started') RETURNING id::text AS id`,
        [principal.name, principal.role, principal.via, action, stream, JSON.stringify(selector)],
      );
      const id = rows[0]?.id;
      if (id === undefined) throw new Error('audit insert returned no id');
      return id;
    },
    async finish(id, r) {
      await db.query(
        `UPDATE ${TABLE} SET outcome = $2, selected = $3, affected = $4, failed = $5, detail = $6,
           finished_at = now() WHERE id = $1`,
        [id, r.outcome, r.selected ?? null, r.affected ?? null, r.failed ?? null, r.detail ?? null],
      );
    },
    async get(id) {
      const { rows } = await db.query<Record<string, unknown>>(`${SELECT} WHERE id = $1::bigint`, [id]);
      return rows[0] === undefined ? undefined : toRow(rows[0]);
    },
    async list({ limit, before }) {
      const { rows } = await db.query<Record<string, unknown>>(
        `${SELECT} WHERE ($2::bigint IS NULL OR id < $2::bigint) ORDER BY id DESC LIMIT $1`,
        [limit, before ?? null],
      );
      return rows.map(toRow);
    },
  };
}

const SELECT = `SELECT id::text AS id, at, actor, role, auth_method, action, stream, selector, selected, affected,
  failed, outcome, detail, finished_at FROM ${TABLE}`;

function toRow(r: Record<string, unknown>): AuditRow {
  return {
    id: r.id as string,
    at: r.at as Date,
    actor: r.actor as string,
    role: r.role as string,
    authMethod: r.auth_method as string,
    action: r.action as AuditAction,
    stream: r.stream as string,
    selector: r.selector,
    selected: r.selected as number | null,
    affected: r.affected as number | null,
    failed: r.failed as number | null,
    outcome: r.outcome as AuditOutcome,
    detail: r.detail as string | null,
    finishedAt: r.finished_at as Date | null,
  };
}
