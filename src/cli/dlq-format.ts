import type { DlqEntry, DlqStats } from '../admin/dlq.ts';
import type { PurgeResult, RedriveProgress, RedriveResult } from '../admin/dlq-redrive.ts';

/** Text rendering of `streamsink dlq` results for a human at a terminal. Pure: data in, text out. */

export function formatStats(s: DlqStats): string {
  const lines = [`dead-letter stream ${s.key}: ${s.total} ${s.total === 1 ? 'entry' : 'entries'}`];
  if (s.oldest) lines.push(`  oldest  ${s.oldest.id}  ${s.oldest.deadLetteredAt}  ${s.oldest.reason}`);
  if (s.newest) lines.push(`  newest  ${s.newest.id}  ${s.newest.deadLetteredAt}  ${s.newest.reason}`);
  if (s.unreadable > 0) lines.push(`  unreadable (not in the dead-letter layout): ${s.unreadable}`);
  lines.push(...table('by reason', s.byReason), ...table('by type', s.byType));
  return `${lines.join('\n')}\n`;
}

function table(title: string, counts: Record<string, number>): string[] {
  const rows = Object.entries(counts).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  if (rows.length === 0) return [];
  const width = Math.max(...rows.map(([k]) => k.length));
  const numWidth = Math.max(...rows.map(([, n]) => String(n).length));
  return [title, ...rows.map(([k, n]) => `  ${k.padEnd(width)}  ${String(n).padStart(numWidth)}`)];
}

/** One line per entry: id, when, reason, type, event id, deliveries, error. */
export function formatListLine(e: DlqEntry): string {
  const message =
    e.meta.errorMessage.length > 100 ? `${e.meta.errorMessage.slice(0, 99)}…` : e.meta.errorMessage;
  return [
    e.id,
    e.meta.deadLetteredAt,
    e.meta.reason,
    e.meta.eventType ?? '-',
    e.meta.eventId ?? '-',
    `deliveries=${e.meta.deliveryCount}`,
    `${e.meta.errorClass}: ${message}`,
  ].join('  ');
}

/** The columns of `dlq list` (and of a dry run's listing), each padded to its widest value; the error last. */
export function formatListTable(entries: readonly DlqEntry[], withError = true): string {
  const rows = entries.map((e) => {
    const message =
      e.meta.errorMessage.length > 100 ? `${e.meta.errorMessage.slice(0, 99)}…` : e.meta.errorMessage;
    return [
      e.id,
      e.meta.deadLetteredAt,
      e.meta.reason,
      e.meta.eventType ?? '-',
      e.meta.eventId ?? '-',
      `deliveries=${e.meta.deliveryCount}`,
      ...(withError ? [`${e.meta.errorClass}: ${message}`] : []),
    ];
  });
  const columns = rows[0]?.length ?? 0;
  const widths = Array.from({ length: columns }, (_, i) =>
    Math.max(...rows.map((r) => (r[i] as string).length)),
  );
  return rows
    .map((r) => r.map((cell, i) => (i === columns - 1 ? cell : cell.padEnd(widths[i] as number))).join('  '))
    .map((line) => `${line}\n`)
    .join('');
}

/** `dlq list` cut at --limit: says how much is not shown. Empty when everything matching is shown. */
export function formatListCut(shown: number, total: number): string {
  if (total <= shown) return '';
  return `showing ${shown} of ${total} (the newest; --limit ${total} shows all)\n`;
}

/** What a dry run would do, entry by entry (the first `max`). */
export function formatDryRun(
  verb: 'redrive' | 'delete',
  selected: number,
  entries: readonly DlqEntry[],
  max = 50,
): string {
  const head = `dry run: would ${verb} ${selected} ${plural(selected)}; nothing changed\n`;
  const shown = entries.slice(0, max);
  const rest = selected - shown.length;
  return (
    head +
    formatListTable(shown, false)
      .split('\n')
      .filter((l) => l.length > 0)
      .map((l) => `  ${l}\n`)
      .join('') +
    (rest > 0 ? `  ... and ${rest} more (--json lists them)\n` : '')
  );
}

/** A warning for `--ids` that name no dead letter. Empty when all were found. */
export function formatMissing(command: string, missing: readonly string[]): string {
  if (missing.length === 0) return '';
  const listed =
    missing.slice(0, 20).join(', ') + (missing.length > 20 ? `, ... (${missing.length - 20} more)` : '');
  return `streamsink dlq ${command}: warning: ${missing.length} of the --ids ${missing.length === 1 ? 'is' : 'are'} not in the dead-letter stream, nothing done for ${missing.length === 1 ? 'it' : 'them'}: ${listed}\n`;
}

export function formatShow(e: DlqEntry): string {
  const m = e.meta;
  const rows: Array<[string, string]> = [
    ['id', e.id],
    ['reason', m.reason],
    ['error', `${m.errorClass}: ${m.errorMessage}`],
    ['event', `${m.eventType ?? '(unknown type)'} ${m.eventId ?? '(unknown id)'}`],
    ['source', `${m.sourceStream} ${m.sourceId}`],
    ['group / consumer', `${m.group} / ${m.consumer}`],
    ['deliveries', String(m.deliveryCount)],
    ['first seen', m.firstSeen],
    ['dead-lettered at', m.deadLetteredAt],
    ['pipeline', `${m.pipeline} v${m.pipelineVersion}`],
  ];
  const lines = rows.map(([k, v]) => `${k.padEnd(17)} ${v}`);
  lines.push('original fields:');
  const names = e.original.filter((_, i) => i % 2 === 0);
  const width = Math.min(16, Math.max(0, ...names.map((n) => n.length)));
  for (let i = 0; i + 1 < e.original.length; i += 2) {
    const name = e.original[i] as string;
    const value = e.original[i + 1] as string;
    const pad = ' '.repeat(4 + width);
    lines.push(
      `  ${JSON.stringify(name).slice(1, -1).padEnd(width)}  ${prettyValue(value).split('\n').join(`\n${pad}`)}`,
    );
  }
  return `${lines.join('\n')}\n`;
}

/** JSON objects and arrays pretty-printed (the payload), anything else as it is, control characters escaped. */
export function prettyValue(value: string): string {
  const trimmed = value.trimStart();
  if (trimmed.startsWith('{') || trimmed.startsWith('[')) {
    try {
      return JSON.stringify(JSON.parse(value), null, 2);
    } catch {
      // not JSON after all (e.g. the invalid_json case): print it raw
    }
  }
  return JSON.stringify(value).slice(1, -1);
}

/** A show result for --json: the entry, with the payload parsed when it is JSON. */
export function showJson(e: DlqEntry): Record<string, unknown> {
  let payload: unknown;
  for (let i = 0; i + 1 < e.original.length; i += 2) {
    if (e.original[i] !== 'data') continue;
    try {
      payload = JSON.parse(e.original[i + 1] as string);
    } catch {
      payload = undefined;
    }
  }
  return { id: e.id, meta: e.meta, original: e.original, payload };
}

export function formatRedrive(r: RedriveResult, interrupted: boolean): string {
  if (r.dryRun) return `dry run: would redrive ${r.selected} ${plural(r.selected)}; nothing changed\n`;
  const lines = [`redriven ${r.redriven}, skipped ${r.skipped}, failed ${r.failed} (selected ${r.selected})`];
  for (const f of r.failures) lines.push(`  failed ${f.id}: ${f.message}`);
  if (r.failures.length < r.failed) lines.push(`  ... and ${r.failed - r.failures.length} more`);
  if (interrupted)
    lines.push('interrupted: the rest is still dead-lettered; run the same command again to finish');
  return `${lines.join('\n')}\n`;
}

export function formatPurge(r: PurgeResult): string {
  return r.dryRun
    ? `dry run: would delete ${r.selected} ${plural(r.selected)}; nothing changed\n`
    : `deleted ${r.purged} ${plural(r.purged)}\n`;
}

export function progressBar(p: RedriveProgress, width = 30): string {
  const ratio = p.total === 0 ? 1 : p.done / p.total;
  const filled = Math.round(ratio * width);
  return (
    `redrive [${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${p.done}/${p.total}` +
    `  redriven ${p.redriven}  skipped ${p.skipped}  failed ${p.failed}`
  );
}

function plural(n: number): string {
  return n === 1 ? 'dead letter' : 'dead letters';
}
