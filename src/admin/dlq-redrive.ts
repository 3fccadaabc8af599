import type { StreamKeys } from '../lib/redis/keys.ts';
import { loadLuaScript } from '../lib/redis/script-loader.ts';
import {
  checkArguments,
  PURGE_OPTIONS,
  PURGE_SELECTOR,
  REDRIVE_OPTIONS,
  REDRIVE_SELECTOR,
  TARGET,
} from '../lib/sdk-args.ts';
import { ringDoorbell } from '../producers/producer.ts';
import {
  assertKnownStream,
  type DlqSelector,
  type DlqTarget,
  qualifiedId,
  resolveKeys,
  type SelectedDeadLetter,
  selectDeadLetters,
} from './dlq.ts';

/**
 * The dead-letter SDK, write side: redrive (put events back on their stream) and purge (delete them).
 * Both are safe to interrupt and run again: each entry moves (or goes) in one atomic step.
 */

const REDRIVE = loadLuaScript(new URL('./dlq-redrive.lua', import.meta.url));

/** Entries per script call: small enough that one call never blocks Redis for long, and progress moves. */
const REDRIVE_CHUNK = 50;
const PURGE_CHUNK = 500;

export interface RedriveProgress {
  /** Entries handled so far (redriven + skipped + failed) out of `total` selected. */
  done: number;
  total: number;
  redriven: number;
  skipped: number;
  failed: number;
}

export interface RedriveOptions {
  /** Count what would be redriven, change nothing. */
  dryRun?: boolean;
  /** Redrive at most this many entries (the oldest first). */
  limit?: number;
  onProgress?: (progress: RedriveProgress) => void;
  /** Stop between chunks when aborted; what was redriven stays redriven, the rest stays dead-lettered. */
  signal?: AbortSignal;
}

export interface RedriveResult {
  dryRun: boolean;
  /** Entries the selector picked (after `limit`). */
  selected: number;
  /** Put back on the source stream and removed from the dead-letter stream. */
  redriven: number;
  /** Gone from the dead-letter stream before their turn (redriven or purged by someone else meanwhile). */
  skipped: number;
  /** Left in the dead-letter stream: unreadable, or Redis refused the re-publish. */
  failed: number;
  /** Why entries failed, by dead-letter entry id (first 100). */
  failures: Array<{ id: string; message: string }>;
  /** New source-stream entry ids of the redriven events, by dead-letter entry id (not returned for dry runs). */
  republished: Array<{ id: string; newId: string }>;
  /** With an `ids` selector: the ids given that are not in the dead-letter stream (nothing done for them). */
  missing: string[];
  /** Dry runs only: the dead-letter entry ids that would be redriven, oldest first. */
  ids?: string[];
}

/**
 * Put dead-lettered events back on their source stream, oldest first, with their original fields, including
 * the original event id: the worker's inbox then applies each event at most once, even one that had been
 * applied before it was dead-lettered. The producer's publish dedupe is bypassed on purpose (it would call the
 * event a duplicate of its first publish). Each entry is re-published and removed from the dead-letter stream
 * in one atomic step, so an interrupted redrive loses nothing and publishes nothing twice; run it again to
 * finish.
 * @throws StreamNotFoundError when neither the stream nor its dead-letter stream exists.
 * @throws UsageError for an unknown reason code.
 * @throws InvalidArgumentError before anything moves, for a selector that is not exactly one of `all`, `ids`,
 *   `reason`/`type`, or an unknown or misplaced key (`dryRun` belongs in `options`, not in the selector).
 * @example
 * const preview = await dlqRedrive({ redis, stream: 'payments' }, { reason: 'unsupported_currency' }, { dryRun: true });
 */
export async function dlqRedrive(
  target: DlqTarget,
  selector: DlqSelector,
  options: RedriveOptions = {},
): Promise<RedriveResult> {
  // biome-ignore lint/complexity/noArguments: the count of arguments given, which a rest parameter would type
  checkArguments('dlqRedrive', [TARGET, REDRIVE_SELECTOR, REDRIVE_OPTIONS], arguments);
  const parts = await resolveKeys(target);
  await assertKnownStream(target, parts);
  const missing: string[] = [];
  const ids = await selectDeadLetters(target, parts, selector, options.limit, missing);
  const result: RedriveResult = {
    dryRun: options.dryRun ?? false,
    selected: ids.length,
    redriven: 0,
    skipped: 0,
    failed: 0,
    failures: [],
    republished: [],
    missing,
  };
  if (result.dryRun) return { ...result, ids: ids.map(({ keys, id }) => qualifiedId(keys, id)) };
  const report = () =>
    options.onProgress?.({
      done: result.redriven + result.skipped + result.failed,
      total: ids.length,
      redriven: result.redriven,
      skipped: result.skipped,
      failed: result.failed,
    });
  report();
  // Each entry goes back to its own partition's stream (its key routed it there), in one script call per
  // run of entries of one partition: a script's keys must share a slot.
  const rung = new Set<StreamKeys>();
  for (const chunk of chunksByPartition(ids, REDRIVE_CHUNK)) {
    if (options.signal?.aborted) break;
    const keys = (chunk[0] as SelectedDeadLetter).keys;
    const reply = (await REDRIVE.run(
      target.redis,
      [keys.stream, keys.deadLetter],
      chunk.map((c) => c.id),
    )) as Array<number | string>;
    chunk.forEach(({ id: bare }, j) => {
      const id = qualifiedId(keys, bare);
      const status = Number(reply[2 * j]);
      const detail = String(reply[2 * j + 1] ?? '');
      if (status === 1) {
        rung.add(keys);
        result.redriven += 1;
        result.republished.push({ id, newId: detail });
      } else if (status === 0) {
        result.skipped += 1;
      } else {
        result.failed += 1;
        if (result.failures.length < 100) result.failures.push({ id, message: detail });
      }
    });
    report();
  }
  // Wake an idle worker of each partition that got entries back (producer.ts ringDoorbell).
  for (const keys of rung) await ringDoorbell(target.redis, keys);
  return result;
}

export interface PurgeOptions {
  /** Count what would be deleted, change nothing. */
  dryRun?: boolean;
}

export interface PurgeResult {
  dryRun: boolean;
  selected: number;
  purged: number;
  /** With an `ids` selector: the ids given that are not in the dead-letter stream. */
  missing: string[];
  /** Dry runs only: the dead-letter entry ids that would be deleted, oldest first. */
  ids?: string[];
}

/**
 * Delete dead letters for good (the events are not re-published). Callers that face humans should ask for
 * confirmation first; the CLI refuses without `--yes`.
 * @throws StreamNotFoundError when neither the stream nor its dead-letter stream exists.
 * @throws UsageError for an unknown reason code.
 * @throws InvalidArgumentError before anything is deleted, for a selector that is not exactly one of `all`,
 *   `ids`, `reason`/`type`, or an unknown or misplaced key (`dryRun` belongs in `options`, not in the selector).
 * @example
 * const preview = await dlqPurge({ redis, stream: 'payments' }, { all: true }, { dryRun: true });
 */
export async function dlqPurge(
  target: DlqTarget,
  selector: DlqSelector,
  options: PurgeOptions = {},
): Promise<PurgeResult> {
  // biome-ignore lint/complexity/noArguments: the count of arguments given, which a rest parameter would type
  checkArguments('dlqPurge', [TARGET, PURGE_SELECTOR, PURGE_OPTIONS], arguments);
  const parts = await resolveKeys(target);
  await assertKnownStream(target, parts);
  const missing: string[] = [];
  const ids = await selectDeadLetters(target, parts, selector, undefined, missing);
  const result: PurgeResult = { dryRun: options.dryRun ?? false, selected: ids.length, purged: 0, missing };
  if (result.dryRun) return { ...result, ids: ids.map(({ keys, id }) => qualifiedId(keys, id)) };
  for (const chunk of chunksByPartition(ids, PURGE_CHUNK)) {
    const keys = (chunk[0] as SelectedDeadLetter).keys;
    result.purged += await target.redis.xdel(keys.deadLetter, ...chunk.map((c) => c.id));
  }
  return result;
}

/**
 * Chunks of at most `size` entries of one partition each, partitions in order of first appearance and entries
 * in the given order within a partition (order matters only within a partition: its stream is what a key's
 * events are ordered in).
 */
export function chunksByPartition(
  entries: readonly SelectedDeadLetter[],
  size: number,
): SelectedDeadLetter[][] {
  const groups = new Map<SelectedDeadLetter['keys'], SelectedDeadLetter[]>();
  for (const entry of entries) {
    const group = groups.get(entry.keys);
    if (group) group.push(entry);
    else groups.set(entry.keys, [entry]);
  }
  const chunks: SelectedDeadLetter[][] = [];
  for (const group of groups.values())
    for (let i = 0; i < group.length; i += size) chunks.push(group.slice(i, i + size));
  return chunks;
}
