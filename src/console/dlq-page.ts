import { type DlqEntry, scanDeadLetters, toDlqEntry } from '../admin/dlq.ts';
import type { RedisClient as Redis } from '../lib/redis/client.ts';
import { compareEntryIds, entryIdMs } from '../lib/redis/stream-ids.ts';
import { type ConsoleFilter, matchesConsoleFilter } from './dlq-filter.ts';

/**
 * Reading the dead-letter stream for the console, over the SDK's scan and decoding (src/admin/dlq.ts): one
 * page, newest first, paged by entry id; and the ids a filter picks, for redrive and purge. Each read is
 * bounded (`maxScan`), so a huge dead-letter stream never makes one page slow: the page says where it
 * stopped and links on from there.
 */

export interface DlqPage {
  entries: DlqEntry[];
  /** Dead-letter stream entries not in the dead-letter layout met on the way (not shown). */
  unreadable: number;
  /** Cursor of the next (older) page, when there may be one. */
  next?: string;
  /** The scan stopped at `maxScan` entries before filling the page: `next` continues it. */
  stoppedEarly: boolean;
}

/** The newest bound a scan starts from: just below `before`, and below `until`. */
export function startBound(before: string | undefined, until: Date | undefined): string | undefined {
  const untilId = until === undefined ? undefined : `${until.getTime()}-0`;
  if (before === undefined) return untilId === undefined ? undefined : `(${untilId}`;
  if (untilId === undefined || compareEntryIds(before, untilId) <= 0) return `(${before}`;
  return `(${untilId}`;
}

export async function readDlqPage(
  redis: Redis,
  key: string,
  query: { filter: ConsoleFilter; before?: string | undefined },
  options: { limit: number; maxScan: number },
): Promise<DlqPage> {
  const page: DlqPage = { entries: [], unreadable: 0, stoppedEarly: false };
  const sinceMs = query.filter.since?.getTime();
  const from = startBound(query.before, query.filter.until);
  let scanned = 0;
  for await (const raw of scanDeadLetters(redis, key, { reverse: true, ...(from ? { from } : {}) })) {
    // Dead-letter ids are assigned when the entry is written: nothing older can match `since`.
    if (sinceMs !== undefined && entryIdMs(raw[0]) < sinceMs) return page;
    scanned += 1;
    const entry = toDlqEntry(raw);
    if (!entry) page.unreadable += 1;
    else if (matchesConsoleFilter(entry, query.filter)) {
      if (page.entries.length === options.limit) {
        page.next = page.entries[page.entries.length - 1]?.id;
        return page;
      }
      page.entries.push(entry);
    }
    if (scanned >= options.maxScan) {
      page.stoppedEarly = true;
      page.next = raw[0];
      return page;
    }
  }
  return page;
}

/** Ids of the entries a filter picks, oldest first, at most `limit` (for redrive and purge by filter). */
export async function selectIds(
  redis: Redis,
  key: string,
  filter: ConsoleFilter,
  limit: number,
): Promise<string[]> {
  const ids: string[] = [];
  const from = filter.since === undefined ? undefined : `${filter.since.getTime()}-0`;
  const untilMs = filter.until?.getTime();
  for await (const raw of scanDeadLetters(redis, key, from ? { from } : {})) {
    if (untilMs !== undefined && entryIdMs(raw[0]) >= untilMs) break;
    const entry = toDlqEntry(raw);
    if (!entry || !matchesConsoleFilter(entry, filter)) continue;
    ids.push(entry.id);
    if (ids.length >= limit) break;
  }
  return ids;
}
