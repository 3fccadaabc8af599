import type { FastifyInstance } from 'fastify';
import { type DlqTarget, dlqShow, dlqStats } from '../admin/dlq.ts';
import { StreamNotFoundError } from '../lib/errors.ts';
import { streamKeys } from '../lib/redis/keys.ts';
import { isEntryId } from '../lib/redis/stream-ids.ts';
import { parseFilter } from './dlq-filter.ts';
import { readDlqPage } from './dlq-page.ts';
import { pageContext, sendError, sendHtml } from './http.ts';
import { readOverview } from './overview.ts';
import type { ConsoleDeps } from './server.ts';
import { auditEntryPage, auditPage } from './views/audit.ts';
import { dlqEntryPage } from './views/dlq-entry.ts';
import { dlqListPage } from './views/dlq-list.ts';
import { streamsPage } from './views/streams.ts';

/** Entries per dead-letter page, and the most entries one page request looks through. */
export const PAGE_SIZE = 50;
export const MAX_SCAN = 20_000;
const AUDIT_PAGE = 100;

/** The read-only views: every signed-in role sees them. Only configured streams are reachable (else 404). */
export function registerReadRoutes(app: FastifyInstance, deps: ConsoleDeps): void {
  const now = deps.now ?? Date.now;
  const target = (stream: string): DlqTarget => ({ redis: deps.redis, stream, keyPrefix: deps.keyPrefix });
  const known = (stream: string) => deps.config.streams.includes(stream);

  app.get('/', async (req, reply) => {
    const at = now();
    const streams = [];
    for (const s of deps.config.streams) streams.push(await readOverview(deps.redis, deps.keyPrefix, s, at));
    return sendHtml(reply, streamsPage(pageContext(deps.config, req, reply), streams, deps.sampler.rates));
  });

  app.get<{ Params: { stream: string }; Querystring: Record<string, unknown> }>(
    '/streams/:stream/dlq',
    async (req, reply) => {
      const { stream } = req.params;
      if (!known(stream)) return sendError(reply, req, 404, 'this console does not show that stream');
      const parsed = parseFilter(req.query);
      const counted = await deps.statsCache.get(stream, async () => {
        try {
          return await dlqStats(target(stream));
        } catch (error) {
          if (error instanceof StreamNotFoundError) return undefined;
          throw error;
        }
      });
      const page = await readDlqPage(
        deps.redis,
        streamKeys(deps.keyPrefix, stream).deadLetter,
        { filter: parsed.filter, before: parsed.before },
        { limit: PAGE_SIZE, maxScan: MAX_SCAN },
      );
      return sendHtml(
        reply,
        dlqListPage(pageContext(deps.config, req, reply), {
          stream,
          stats: counted.value,
          statsAtMs: counted.atMs,
          filter: parsed.filter,
          before: parsed.before,
          errors: parsed.errors,
          page,
        }),
        parsed.errors.length > 0 ? 400 : 200,
      );
    },
  );

  app.get<{ Params: { stream: string; id: string } }>('/streams/:stream/dlq/:id', async (req, reply) => {
    const { stream, id } = req.params;
    if (!known(stream)) return sendError(reply, req, 404, 'this console does not show that stream');
    if (!isEntryId(id)) return sendError(reply, req, 400, 'not a stream entry id');
    let entry: Awaited<ReturnType<typeof dlqShow>>;
    try {
      entry = await dlqShow(target(stream), id);
    } catch (error) {
      if (!(error instanceof StreamNotFoundError)) throw error;
    }
    if (!entry) return sendError(reply, req, 404, `no dead letter ${id} in ${stream} (redriven or purged?)`);
    return sendHtml(reply, dlqEntryPage(pageContext(deps.config, req, reply), stream, entry));
  });

  app.get<{ Params: { id: string } }>('/audit/:id', async (req, reply) => {
    const row = /^\d{1,18}$/.test(req.params.id) ? await deps.audit.get(req.params.id) : undefined;
    if (!row) return sendError(reply, req, 404, 'no such audit entry');
    return sendHtml(reply, auditEntryPage(pageContext(deps.config, req, reply), row));
  });

  app.get<{ Querystring: { before?: string } }>('/audit', async (req, reply) => {
    const before =
      typeof req.query.before === 'string' && /^\d{1,18}$/.test(req.query.before)
        ? req.query.before
        : undefined;
    const rows = await deps.audit.list({ limit: AUDIT_PAGE + 1, before });
    const next = rows.length > AUDIT_PAGE ? rows[AUDIT_PAGE - 1]?.id : undefined;
    return sendHtml(reply, auditPage(pageContext(deps.config, req, reply), rows.slice(0, AUDIT_PAGE), next));
  });
}
