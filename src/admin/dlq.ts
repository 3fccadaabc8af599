import { type DeadLetterMeta, decodeDeadLetter } from '../lib/dead-letter-entry.ts';
import {
  isReasonCode,
  REASON_CODES,
  REASON_PATTERN,
  StreamNotFoundError,
  UsageError,
} from '../lib/errors.ts';
import { readStreamLayout } from '../lib/partitions/stream-layout.ts';
import type { RedisClient as Redis } from '../lib/redis/client.ts';
import type { StreamKeys } from '../lib/redis/keys.ts';
import { compareEntryIds, entryIdMs, entryIdTime } from '../lib/redis/stream-ids.ts';
import { checkArguments, DLQ_LIST_OPTIONS, SHOW_ID, TARGET } from '../lib/sdk-args.ts';

/**
 * The dead-letter SDK, read side: statistics, listing and inspection of a stream's dead-letter stream, and
 * the selection of entries that redrive and purge (dlq-redrive.ts) act on. The CLI's `streamsink dlq` is a
 * thin layer over these functions, so whoever automates redrive gets the same behaviour.
 */

/** Which dead-letter stream: the stream's logical name and the Redis client to reach it. */
export interface DlqTarget {
  redis: Redis;
  /** Logical stream name (`payments`), as given to the worker's `--stream`. */
  stream: string;
  /** Redis key prefix (STREAMSINK_KEY_PREFIX); `streamsink` when omitted. */
  keyPrefix?: string;
}

/** One dead-letter entry: its id in the dead-letter stream, the context it was stored with, the original. */
export interface DlqEntry {
  /**
   * Its id in the dead-letter stream; on a partitioned stream qualified with the partition, `<p>/<entry id>`
   * (what `show`, `--ids`, redrive and purge take back).
   */
  id: string;
  /** The partition whose dead-letter stream holds it (partitioned streams only). */
  partition?: number;
  meta: DeadLetterMeta;
  /** The original entry's flat field list, exactly as it was on the source stream. */
  original: string[];
}

export interface DlqStats {
  stream: string;
  /** Redis key of the dead-letter stream. */
  key: string;
  total: number;
  byReason: Record<string, number>;
  /** Keyed by event type; `(unknown)` for entries that never decoded far enough to have one. */
  byType: Record<string, number>;
  /** Entries in the dead-letter stream that are not in the dead-letter layout (written by something else). */
  unreadable: number;
  oldest?: DlqEntrySummary;
  newest?: DlqEntrySummary;
}

export interface DlqEntrySummary {
  id: string;
  deadLetteredAt: string;
  reason: string;
}

export interface DlqFilter {
  reason?: string;
  type?: string;
  /** Only entries dead-lettered at or after this time. */
  since?: Date;
}

export interface DlqListOptions extends DlqFilter {
  /** The newest `limit` matching entries (still printed oldest first). Default 100. */
  limit?: number;
}

/**
 * What redrive and purge act on: every entry, a list of dead-letter entry ids, or the entries with a reason
 * and/or an event type.
 */
export type DlqSelector = { all: true } | { ids: readonly string[] } | { reason?: string; type?: string };

const PAGE = 500;
export const UNKNOWN_TYPE = '(unknown)';

/**
 * The stream's keys: one entry for an unpartitioned stream, one per partition otherwise (each partition has
 * its own dead-letter stream, on its own slot).
 */
export async function resolveKeys(target: DlqTarget): Promise<StreamKeys[]> {
  const layout = await readStreamLayout(target.redis, target.keyPrefix ?? 'streamsink', target.stream);
  return layout.kind === 'single' ? [layout.keys] : [...layout.partitions];
}

/**
 * Throws StreamNotFoundError when neither the stream nor its dead-letter stream exists. A partitioned stream
 * exists once created (its metadata does). Keys are checked one at a time: on a cluster they live on
 * different slots.
 */
export async function assertKnownStream(target: DlqTarget, parts: readonly StreamKeys[]): Promise<void> {
  const first = parts[0];
  if (first === undefined || first.partition !== undefined) return;
  const exists = await target.redis.exists(first.stream, first.deadLetter);
  if (exists === 0) throw new StreamNotFoundError(first.stream);
}

/** `<p>/<id>` on a partitioned stream, the bare entry id otherwise. */
export function qualifiedId(keys: StreamKeys, id: string): string {
  return keys.partition === undefined ? id : `${keys.partition}/${id}`;
}

/**
 * Where an id given by a user may be: `<p>/<id>` names one partition; a bare id is looked for in every
 * partition's dead-letter stream. Throws UsageError for anything that is not an entry id.
 */
export function locateId(
  parts: readonly StreamKeys[],
  text: string,
): Array<{ keys: StreamKeys; id: string }> {
  const m = /^(?:(\d+)\/)?(\d+-\d+)$/.exec(text);
  if (!m) throw new UsageError(`not a stream entry id: ${JSON.stringify(text)}`);
  const id = m[2] as string;
  if (m[1] === undefined) return parts.map((keys) => ({ keys, id }));
  const keys = parts.find((k) => k.partition === Number(m[1]));
  if (!keys) throw new UsageError(`no partition ${m[1]} in this stream (${JSON.stringify(text)})`);
  return [{ keys, id }];
}

function withPartition(entry: DlqEntry, keys: StreamKeys): DlqEntry {
  if (keys.partition === undefined) return entry;
  return { ...entry, id: qualifiedId(keys, entry.id), partition: keys.partition };
}

/** The bare entry id of a (possibly qualified) id, for ordering by time. */
function bareId(id: string): string {
  return id.slice(id.indexOf('/') + 1);
}

type RawEntry = [string, string[]];

/** Every entry of the dead-letter stream in id order (or reverse), read in pages. */
export async function* scanDeadLetters(
  redis: Redis,
  key: string,
  options: { reverse?: boolean; from?: string } = {},
): AsyncGenerator<RawEntry> {
  let bound = options.from ?? (options.reverse ? '+' : '-');
  const end = options.reverse ? '-' : '+';
  for (;;) {
    const page = (
      options.reverse
        ? await redis.xrevrange(key, bound, end, 'COUNT', PAGE)
        : await redis.xrange(key, bound, end, 'COUNT', PAGE)
    ) as RawEntry[];
    for (const entry of page) yield entry;
    const last = page[page.length - 1];
    if (page.length < PAGE || !last) return;
    bound = `(${last[0]}`;
  }
}

/** Decode a raw entry, `undefined` when it is not in the dead-letter layout. */
export function toDlqEntry([id, fields]: RawEntry): DlqEntry | undefined {
  const decoded = decodeDeadLetter(fields);
  return decoded.ok ? { id, meta: decoded.value.meta, original: decoded.value.original } : undefined;
}

/**
 * Refuse a reason that cannot be meant up front: one not shaped like a reason code, or a near miss of a
 * built-in one (`unsuported_currency`), which would otherwise silently match nothing. Pipelines may declare
 * reasons of their own, so any other well-formed code is a valid filter.
 */
export function checkReason(reason: string | undefined): void {
  if (reason === undefined || isReasonCode(reason)) return;
  const near = REASON_CODES.find((known) => editDistance(known, reason) <= 2);
  if (!REASON_PATTERN.test(reason) || near !== undefined)
    throw new UsageError(
      `unknown reason ${JSON.stringify(reason)}${near ? ` (did you mean ${near}?)` : ''}; known reasons: ` +
        `${REASON_CODES.join(', ')}, and those your pipelines declare (lowercase letters, digits and _)`,
    );
}

/** Levenshtein distance, for "did you mean"; both strings are short reason codes. */
function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++)
      row[j] = Math.min(
        (prev[j] as number) + 1,
        (row[j - 1] as number) + 1,
        (prev[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    prev = row;
  }
  return prev[b.length] as number;
}

export function matchesFilter(entry: DlqEntry, filter: DlqFilter): boolean {
  if (filter.reason !== undefined && entry.meta.reason !== filter.reason) return false;
  if (filter.type !== undefined && entry.meta.eventType !== filter.type) return false;
  if (filter.since !== undefined) {
    const at = Date.parse(entryIdTime(entry.id) ?? '');
    if (!(at >= filter.since.getTime())) return false;
  }
  return true;
}

/**
 * Count a stream's dead letters by reason and by event type, with the oldest and newest.
 * @throws StreamNotFoundError when neither the stream nor its dead-letter stream exists.
 * @throws InvalidArgumentError for a malformed target or an extra argument.
 */
export async function dlqStats(target: DlqTarget): Promise<DlqStats> {
  // biome-ignore lint/complexity/noArguments: the count of arguments given, which a rest parameter would type
  checkArguments('dlqStats', [TARGET], arguments);
  const parts = await resolveKeys(target);
  await assertKnownStream(target, parts);
  const stats: DlqStats = {
    stream: target.stream,
    key: deadLetterKeyLabel(parts),
    total: 0,
    byReason: {},
    byType: {},
    unreadable: 0,
  };
  for (const keys of parts) {
    for await (const raw of scanDeadLetters(target.redis, keys.deadLetter)) {
      stats.total += 1;
      const entry = toDlqEntry(raw);
      if (!entry) {
        stats.unreadable += 1;
        continue;
      }
      const type = entry.meta.eventType ?? UNKNOWN_TYPE;
      stats.byReason[entry.meta.reason] = (stats.byReason[entry.meta.reason] ?? 0) + 1;
      stats.byType[type] = (stats.byType[type] ?? 0) + 1;
      const summary = {
        id: qualifiedId(keys, entry.id),
        deadLetteredAt: entry.meta.deadLetteredAt,
        reason: entry.meta.reason,
      };
      if (!stats.oldest || compareEntryIds(entry.id, bareId(stats.oldest.id)) < 0) stats.oldest = summary;
      if (!stats.newest || compareEntryIds(entry.id, bareId(stats.newest.id)) >= 0) stats.newest = summary;
    }
  }
  return stats;
}

/**
 * The newest `limit` dead letters matching the filter, oldest first (newest last, like a log).
 * @throws StreamNotFoundError when neither the stream nor its dead-letter stream exists.
 * @throws UsageError for an unknown reason code.
 * @throws InvalidArgumentError for an unknown option (a selector key such as `all`), a wrong type, or an
 *   extra argument.
 * @example
 * const recent = await dlqList({ redis, stream: 'payments' }, { reason: 'schema_violation', limit: 20 });
 */
export async function dlqList(target: DlqTarget, options: DlqListOptions = {}): Promise<DlqEntry[]> {
  // biome-ignore lint/complexity/noArguments: the count of arguments given, which a rest parameter would type
  checkArguments('dlqList', [TARGET, DLQ_LIST_OPTIONS], arguments);
  checkReason(options.reason);
  const parts = await resolveKeys(target);
  await assertKnownStream(target, parts);
  const limit = options.limit ?? 100;
  const out: DlqEntry[] = [];
  if (limit <= 0) return out;
  const sinceMs = options.since?.getTime();
  // The newest `limit` of each dead-letter stream, then the newest `limit` of those, by entry id (time).
  for (const keys of parts) {
    let taken = 0;
    for await (const raw of scanDeadLetters(target.redis, keys.deadLetter, { reverse: true })) {
      // Dead-letter entry ids are assigned when the entry is written: older ids cannot match `since`.
      if (sinceMs !== undefined && entryIdMs(raw[0]) < sinceMs) break;
      const entry = toDlqEntry(raw);
      if (!entry || !matchesFilter(entry, options)) continue;
      out.push(withPartition(entry, keys));
      if (++taken >= limit) break;
    }
  }
  out.sort((a, b) => compareEntryIds(bareId(a.id), bareId(b.id)));
  return out.slice(Math.max(0, out.length - limit));
}

/**
 * One dead letter by its id in the dead-letter stream, or `undefined` when there is none.
 * @throws StreamNotFoundError when neither the stream nor its dead-letter stream exists.
 * @throws InvalidArgumentError for a malformed target, an id that is not a string, or an extra argument.
 */
export async function dlqShow(target: DlqTarget, id: string): Promise<DlqEntry | undefined> {
  // biome-ignore lint/complexity/noArguments: the count of arguments given, which a rest parameter would type
  checkArguments('dlqShow', [TARGET, SHOW_ID], arguments);
  const parts = await resolveKeys(target);
  await assertKnownStream(target, parts);
  for (const { keys, id: bare } of locateId(parts, id)) {
    const found = (await target.redis.xrange(keys.deadLetter, bare, bare)) as RawEntry[];
    const entry = found[0] ? toDlqEntry(found[0]) : undefined;
    if (entry) return withPartition(entry, keys);
  }
  return undefined;
}

/** One selected dead-letter entry: the partition's keys and its bare id there. */
export interface SelectedDeadLetter {
  keys: StreamKeys;
  id: string;
}

/**
 * The entries a selector picks, oldest first (by entry id across partitions), at most `limit`. Unreadable
 * entries are picked only by `all` and by `ids` (so purge can remove them; redrive reports them as failed).
 */
export async function selectDeadLetters(
  target: DlqTarget,
  parts: readonly StreamKeys[],
  selector: DlqSelector,
  limit = Number.POSITIVE_INFINITY,
  /** Collects the `ids` asked for that are not in the dead-letter stream (looked up before the limit). */
  missing?: string[],
): Promise<SelectedDeadLetter[]> {
  const picked: SelectedDeadLetter[] = [];
  const byTime = (a: SelectedDeadLetter, b: SelectedDeadLetter) => compareEntryIds(a.id, b.id);
  if ('ids' in selector) {
    const located = selector.ids.flatMap((text) => locateId(parts, text).map((at) => ({ ...at, text })));
    const seen = new Set<string>();
    const foundTexts = new Set<string>();
    for (const { keys, id, text } of located.sort(byTime)) {
      const unique = `${keys.stream} ${id}`;
      if (seen.has(unique)) continue;
      seen.add(unique);
      const found = (await target.redis.xrange(keys.deadLetter, id, id)) as RawEntry[];
      if (found.length === 0) continue;
      foundTexts.add(text);
      if (picked.length < limit) picked.push({ keys, id });
    }
    if (missing) for (const text of selector.ids) if (!foundTexts.has(text)) missing.push(text);
    return picked;
  }
  const all = 'all' in selector && selector.all;
  if (!all) {
    const filter = selector as { reason?: string; type?: string };
    if (filter.reason === undefined && filter.type === undefined)
      throw new UsageError('choose entries with all, ids, reason or type');
    checkReason(filter.reason);
  }
  for (const keys of parts) {
    let taken = 0;
    for await (const raw of scanDeadLetters(target.redis, keys.deadLetter)) {
      if (taken >= limit) break;
      if (!all) {
        const entry = toDlqEntry(raw);
        if (!entry || !matchesFilter(entry, selector as DlqFilter)) continue;
      }
      picked.push({ keys, id: raw[0] });
      taken += 1;
    }
  }
  return picked.sort(byTime).slice(0, limit);
}

/** What `stats` reports as the dead-letter key: the one key, or a pattern over the partitions' keys. */
function deadLetterKeyLabel(parts: readonly StreamKeys[]): string {
  const first = parts[0];
  if (!first || first.partition === undefined || parts.length === 1) return first?.deadLetter ?? '';
  return `${first.deadLetter} .. ${parts[parts.length - 1]?.deadLetter} (${parts.length} partitions)`;
}

/**
 * How many dead letters match the filter (all of them without one): what `dlq list` shows a part of.
 * Without a filter one XLEN; with one, a scan of the dead-letter stream.
 */
export async function countDeadLetters(target: DlqTarget, filter: DlqFilter = {}): Promise<number> {
  const parts = await resolveKeys(target);
  const sinceMs = filter.since?.getTime();
  let n = 0;
  for (const keys of parts) {
    if (filter.reason === undefined && filter.type === undefined && filter.since === undefined) {
      n += await target.redis.xlen(keys.deadLetter);
      continue;
    }
    for await (const raw of scanDeadLetters(target.redis, keys.deadLetter, { reverse: true })) {
      if (sinceMs !== undefined && entryIdMs(raw[0]) < sinceMs) break;
      const entry = toDlqEntry(raw);
      if (entry && matchesFilter(entry, filter)) n += 1;
    }
  }
  return n;
}
