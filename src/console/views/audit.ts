import type { AuditRow } from '../audit-store.ts';
import { parseFilter } from '../dlq-filter.ts';
import { html, queryString, seg } from '../html.ts';
import { describeScope } from './actions.ts';
import { fmtTime, type PageContext, page } from './layout.ts';

export function auditPage(ctx: PageContext, rows: readonly AuditRow[], next: string | undefined): string {
  const body = html`<div class="scroll"><table class="audit">
<thead><tr><th>#</th><th>at</th><th>who</th><th>action</th><th>stream</th><th>selection</th><th>selected</th><th>affected</th><th>failed</th><th>outcome</th></tr></thead>
<tbody>${
    rows.length === 0
      ? html`<tr><td colspan="10" class="muted">No actions recorded yet.</td></tr>`
      : rows.map(
          (r) => html`<tr>
  <td><a href="/audit/${r.id}">${r.id}</a></td><td class="nowrap">${fmtTime(r.at)}</td><td>${r.actor} <small>${r.role}, ${r.authMethod}</small></td>
  <td>${r.action}</td><td>${r.stream}</td><td class="mono clip">${JSON.stringify(r.selector)}</td>
  <td class="num">${r.selected ?? '-'}</td><td class="num">${r.affected ?? '-'}</td><td class="num">${r.failed ?? '-'}</td>
  <td><span class="${`tag ${r.outcome}`}">${r.outcome}</span>${r.detail ? html` <small>${r.detail}</small>` : ''}</td>
</tr>`,
        )
  }</tbody></table></div>
${next ? html`<nav class="paging"><a href="/audit${queryString({ before: next })}">Older</a></nav>` : ''}`;
  return page('Audit', ctx, body);
}

/** The selection an audit row recorded, in words (ids, or the filter). */
export function describeSelection(selector: unknown): string {
  const s = (selector ?? {}) as { ids?: unknown; count?: unknown; filter?: unknown };
  if (Array.isArray(s.ids)) {
    const count = typeof s.count === 'number' ? s.count : s.ids.length;
    return count === 1 ? `entry ${String(s.ids[0])}` : `${count} selected entries`;
  }
  if (s.filter !== null && typeof s.filter === 'object')
    return describeScope({ filter: parseFilter(s.filter as Record<string, unknown>).filter });
  return JSON.stringify(selector);
}

/**
 * One action, from its audit row: where the browser lands after a redrive or purge (POST, then redirect, then
 * this GET), so reloading the page shows the result again instead of acting again.
 */
export function auditEntryPage(ctx: PageContext, r: AuditRow): string {
  const verb = r.action === 'redrive' ? 'Redriven' : 'Purged';
  const body = html`<section class="card">
<p id="result">${verb}: <b id="affected">${r.affected ?? '-'}</b> of ${r.selected ?? '-'} selected (${describeSelection(r.selector)}).${
    r.failed ? ` ${r.failed} failed and stay dead-lettered.` : ''
  }</p>
${r.detail ? html`<pre class="text">${r.detail}</pre>` : ''}
<dl class="facts">
  <div><dt>outcome</dt><dd><span class="${`tag ${r.outcome}`}">${r.outcome}</span></dd></div>
  <div><dt>by</dt><dd>${r.actor} (${r.role}, ${r.authMethod})</dd></div>
  <div><dt>at</dt><dd>${fmtTime(r.at)}</dd></div>
  <div><dt>stream</dt><dd>${r.stream}</dd></div>
</dl>
<p><a href="/streams/${seg(r.stream)}/dlq">Back to the dead letters of ${r.stream}</a> · <a href="/audit">All actions</a></p>
</section>`;
  return page(`${r.action === 'redrive' ? 'Redrive' : 'Purge'} #${r.id}: ${r.stream}`, ctx, body);
}
