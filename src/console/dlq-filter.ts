import { checkReason, type DlqEntry, type DlqSelector, matchesFilter } from '../admin/dlq.ts';
import { UsageError } from '../lib/errors.ts';
import { entryIdMs, isEntryId } from '../lib/redis/stream-ids.ts';

/**
 * The dead-letter list's filters, from a query string or a form: parsed and checked here (pure), applied by
 * dlq-page.ts and turned into the SDK's selector for redrive and purge.
 */
export interface ConsoleFilter {
  reason?: string;
  type?: string;
  eventId?: string;
  /** Dead-lettered at or after. */
  since?: Date;
  /** Dead-lettered before. */
  until?: Date;
}

export interface ParsedFilter {
  filter: ConsoleFilter;
  /** Page older than this dead-letter entry id (paging by id, newest first). */
  before?: string;
  /** One message per bad parameter, shown above the list; the bad parameter is ignored. */
  errors: string[];
}

type Params = Record<string, unknown>;

const str = (params: Params, key: string): string | undefined => {
  const v = params[key];
  const s = Array.isArray(v) ? v[0] : v;
  return typeof s === 'string' && s.trim() !== '' ? s.trim() : undefined;
};

/**
 * A time from a form: ISO-8601 with a zone, or `<input type="datetime-local">`'s `YYYY-MM-DDTHH:MM[:SS]`,
 * read as UTC (the console shows every time in UTC).
 */
export function parseTime(text: string): Date | undefined {
  const local = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?$/.test(text);
  if (!local && !/^\d{4}-\d{2}-\d{2}/.test(text)) return undefined;
  const at = Date.parse(local ? `${text}Z` : text);
  return Number.isNaN(at) ? undefined : new Date(at);
}

/** The filter in a request's query (or form body). Never throws: bad values become `errors`. */
export function parseFilter(params: Params): ParsedFilter {
  const filter: ConsoleFilter = {};
  const errors: string[] = [];
  const reason = str(params, 'reason');
  if (reason !== undefined) {
    try {
      checkReason(reason);
      filter.reason = reason;
    } catch (error) {
      errors.push(error instanceof UsageError ? error.message : 'bad reason');
    }
  }
  const type = str(params, 'type');
  if (type !== undefined) {
    if (type.length > 200) errors.push('type: at most 200 characters');
    else filter.type = type;
  }
  const eventId = str(params, 'eventId');
  if (eventId !== undefined) {
    if (eventId.length > 200) errors.push('event id: at most 200 characters');
    else filter.eventId = eventId;
  }
  for (const key of ['since', 'until'] as const) {
    const text = str(params, key);
    if (text === undefined) continue;
    const at = parseTime(text);
    if (at) filter[key] = at;
    else errors.push(`${key}: expected a time such as 2026-11-21T10:00 (UTC) or an ISO-8601 time`);
  }
  if (filter.since && filter.until && filter.since >= filter.until) {
    errors.push('since must be before until');
    delete filter.until;
  }
  const out: ParsedFilter = { filter, errors };
  const before = str(params, 'before');
  if (before !== undefined) {
    if (isEntryId(before)) out.before = before;
    else errors.push('before: not a stream entry id');
  }
  return out;
}

/** Whether a decoded entry passes the filter: the SDK's checks plus event id and the upper time bound. */
export function matchesConsoleFilter(entry: DlqEntry, filter: ConsoleFilter): boolean {
  if (!matchesFilter(entry, filter)) return false;
  if (filter.eventId !== undefined && entry.meta.eventId !== filter.eventId) return false;
  if (filter.until !== undefined && !(entryIdMs(entry.id) < filter.until.getTime())) return false;
  return true;
}

export const isEmptyFilter = (f: ConsoleFilter): boolean =>
  f.reason === undefined &&
  f.type === undefined &&
  f.eventId === undefined &&
  f.since === undefined &&
  f.until === undefined;

/**
 * The SDK selector for a filter, when the SDK can express it (everything, or reason and/or type); `undefined`
 * when the filter needs the console's own scan (time range, event id), which then selects by ids.
 */
export function sdkSelector(filter: ConsoleFilter): DlqSelector | undefined {
  if (isEmptyFilter(filter)) return { all: true };
  if (filter.eventId !== undefined || filter.since !== undefined || filter.until !== undefined)
    return undefined;
  return {
    ...(filter.reason === undefined ? {} : { reason: filter.reason }),
    ...(filter.type === undefined ? {} : { type: filter.type }),
  };
}

/** The filter as query parameters (for links and hidden form fields). */
export function filterParams(filter: ConsoleFilter): Record<string, string | undefined> {
  return {
    reason: filter.reason,
    type: filter.type,
    eventId: filter.eventId,
    since: filter.since?.toISOString(),
    until: filter.until?.toISOString(),
  };
}

/** Ids from a form: one or many `id` fields, each a stream entry id. */
export function parseIds(value: unknown): string[] {
  const list = Array.isArray(value) ? value : value === undefined ? [] : [value];
  const ids = list.filter((v): v is string => typeof v === 'string' && isEntryId(v));
  if (ids.length !== list.length) throw new UsageError('not a stream entry id among the selected ids');
  return [...new Set(ids)];
}
