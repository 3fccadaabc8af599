import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { DlqSelector, DlqTarget } from '../admin/dlq.ts';
import { dlqPurge, dlqRedrive, type RedriveResult } from '../admin/dlq-redrive.ts';
import { describeError } from '../lib/errors.ts';
import { streamKeys } from '../lib/redis/keys.ts';
import type { AuditAction } from './audit-store.ts';
import { authorize, type Principal } from './auth.ts';
import { filterParams, parseFilter, parseIds, sdkSelector } from './dlq-filter.ts';
import { selectIds } from './dlq-page.ts';
import { pageContext, sendError, sendHtml } from './http.ts';
import type { ConsoleDeps } from './server.ts';
import { type ActionScope, previewPage, resultPage } from './views/actions.ts';

/**
 * Redrive and purge, for operators, over the dead-letter SDK (src/admin/dlq-redrive.ts). Each is two POSTs:
 * the first counts (a dry run) and asks; the second, with `confirm=yes` (and for purge the stream name typed
 * again), acts. An action is written to the audit table before it runs and completed after; when the audit
 * row cannot be written, nothing is done.
 */

type Body = Record<string, unknown>;

/** The entries a form names: `id` fields (selected entries) or the filter's fields. */
export function parseScope(body: Body): { scope?: ActionScope; errors: string[] } {
  if (body.id !== undefined || body.mode === 'ids') {
    const ids = parseIds(body.id);
    if (ids.length === 0) return { errors: ['select at least one entry'] };
    return { scope: { ids }, errors: [] };
  }
  const parsed = parseFilter(body);
  return parsed.errors.length > 0
    ? { errors: parsed.errors }
    : { scope: { filter: parsed.filter }, errors: [] };
}

/** The scope as the audit table records it. */
export function scopeRecord(scope: ActionScope): unknown {
  if ('ids' in scope) return { ids: scope.ids.slice(0, 1000), count: scope.ids.length };
  return { filter: filterParams(scope.filter) };
}

/** What the audit row says beyond the counts: entries already gone, and why entries failed (the first 20). */
export function redriveDetail(r: RedriveResult): string | undefined {
  const parts = [
    ...(r.skipped > 0 ? [`${r.skipped} already gone (redriven or purged meanwhile)`] : []),
    ...r.failures.slice(0, 20).map((f) => `${f.id}: ${f.message}`),
  ];
  return parts.length > 0 ? parts.join('\n') : undefined;
}

export function registerActionRoutes(app: FastifyInstance, deps: ConsoleDeps): void {
  const target = (stream: string): DlqTarget => ({ redis: deps.redis, stream, keyPrefix: deps.keyPrefix });
  const cap = deps.config.maxRedrive;

  /** The SDK selector for a scope; a filter the SDK cannot express is resolved to ids here (capped). */
  const selectorFor = async (stream: string, scope: ActionScope): Promise<DlqSelector> => {
    if ('ids' in scope) return { ids: scope.ids };
    const direct = sdkSelector(scope.filter);
    if (direct) return direct;
    return {
      ids: await selectIds(deps.redis, streamKeys(deps.keyPrefix, stream).deadLetter, scope.filter, cap),
    };
  };

  /** Checks shared by both actions; the principal and scope when the request may go on. */
  const admit = (
    action: AuditAction,
    req: FastifyRequest<{ Params: { stream: string }; Body: Body }>,
    reply: FastifyReply,
  ): { principal: Principal; scope: ActionScope } | undefined => {
    const principal = req.principal;
    if (!principal || !authorize(principal.role, action)) {
      req.log.warn({ user: principal?.name, role: principal?.role, action }, 'console action refused: role');
      void sendError(reply, req, 403, `${action} needs the operator role`);
      return undefined;
    }
    if (!deps.config.streams.includes(req.params.stream)) {
      void sendError(reply, req, 404, 'this console does not show that stream');
      return undefined;
    }
    const { scope, errors } = parseScope(req.body ?? {});
    if (!scope) {
      void sendError(reply, req, 400, errors.join('; '));
      return undefined;
    }
    return { principal, scope };
  };

  /** Record, act, complete the record. Refuses (503) when the first record cannot be written. */
  const audited = async <T>(
    req: FastifyRequest,
    reply: FastifyReply,
    entry: { principal: Principal; action: AuditAction; stream: string; scope: ActionScope },
    act: () => Promise<T>,
    summarize: (result: T) => { selected: number; affected: number; failed?: number; detail?: string },
  ): Promise<{ auditId: string; result: T; recorded: boolean } | undefined> => {
    let auditId: string;
    try {
      auditId = await deps.audit.begin({ ...entry, selector: scopeRecord(entry.scope) });
    } catch (error) {
      req.log.error({ err: error }, 'console action refused: cannot write the audit row');
      void sendError(
        reply,
        req,
        503,
        `cannot record the ${entry.action} in the audit table, so nothing was done`,
      );
      return undefined;
    }
    let result: T;
    try {
      result = await act();
    } catch (error) {
      deps.statsCache.invalidate(entry.stream);
      await deps.audit
        .finish(auditId, { outcome: 'failed', detail: describeError(error, 300) })
        .catch((e: unknown) => req.log.error({ err: e, auditId }, 'cannot complete the audit row'));
      throw error;
    }
    deps.statsCache.invalidate(entry.stream);
    const summary = summarize(result);
    req.log.info(
      { user: entry.principal.name, action: entry.action, stream: entry.stream, auditId, ...summary },
      'console action',
    );
    const recorded = await deps.audit.finish(auditId, { outcome: 'done', ...summary }).then(
      () => true,
      (e: unknown) => {
        req.log.error({ err: e, auditId }, 'cannot complete the audit row (left as started)');
        return false;
      },
    );
    return { auditId, result, recorded };
  };

  app.post<{ Params: { stream: string }; Body: Body }>(
    '/streams/:stream/dlq/redrive',
    { preHandler: app.csrfProtection },
    async (req, reply) => {
      const admitted = admit('redrive', req, reply);
      if (!admitted) return reply;
      const { principal, scope } = admitted;
      const stream = req.params.stream;
      const selector = await selectorFor(stream, scope);
      const ctx = pageContext(deps.config, req, reply);
      if (req.body.confirm !== 'yes') {
        const dry = await dlqRedrive(target(stream), selector, { dryRun: true, limit: cap });
        return sendHtml(
          reply,
          previewPage(ctx, { action: 'redrive', stream, scope, count: dry.selected, cap }),
        );
      }
      const done = await audited(
        req,
        reply,
        { principal, action: 'redrive', stream, scope },
        () => dlqRedrive(target(stream), selector, { limit: cap }),
        (r) => ({ selected: r.selected, affected: r.redriven, failed: r.failed, detail: redriveDetail(r) }),
      );
      if (!done) return reply;
      // Post/redirect/get: reloading the result must not redrive again (a filter may match new entries).
      if (done.recorded) return reply.redirect(`/audit/${done.auditId}`, 303);
      const r = done.result;
      return sendHtml(
        reply,
        resultPage(ctx, {
          action: 'redrive',
          stream,
          scope,
          auditId: done.auditId,
          selected: r.selected,
          affected: r.redriven,
          skipped: r.skipped,
          failed: r.failed,
          failures: r.failures.slice(0, 20),
        }),
      );
    },
  );

  app.post<{ Params: { stream: string }; Body: Body }>(
    '/streams/:stream/dlq/purge',
    { preHandler: app.csrfProtection },
    async (req, reply) => {
      const admitted = admit('purge', req, reply);
      if (!admitted) return reply;
      const { principal, scope } = admitted;
      const stream = req.params.stream;
      const selector = await selectorFor(stream, scope);
      const ctx = pageContext(deps.config, req, reply);
      const confirmed = req.body.confirm === 'yes';
      if (!confirmed || req.body.confirmStream !== stream) {
        const dry = await dlqPurge(target(stream), selector, { dryRun: true });
        const errors = confirmed ? ['Type the stream name exactly to confirm the purge.'] : [];
        return sendHtml(
          reply,
          previewPage(ctx, { action: 'purge', stream, scope, count: dry.selected, errors }),
          confirmed ? 400 : 200,
        );
      }
      const done = await audited(
        req,
        reply,
        { principal, action: 'purge', stream, scope },
        () => dlqPurge(target(stream), selector),
        (r) => ({ selected: r.selected, affected: r.purged }),
      );
      if (!done) return reply;
      if (done.recorded) return reply.redirect(`/audit/${done.auditId}`, 303);
      return sendHtml(
        reply,
        resultPage(ctx, {
          action: 'purge',
          stream,
          scope,
          auditId: done.auditId,
          selected: done.result.selected,
          affected: done.result.purged,
        }),
      );
    },
  );
}
