import type { AuditRow } from '../audit-store.ts';
import { html, queryString } from '../html.ts';
import { fmtTime, type PageContext, page } from './layout.ts';

export function auditPage(ctx: PageContext, rows: readonly AuditRow[], next: string | undefined): string {
  const body = html`<div class="scroll"><table class="audit">
<thead><tr><th>#</th><th>at</th><th>who</th><th>action</th><th>stream</th><th>selection</th><th>selected</th><th>affected</th><th>failed</th><th>outcome</th></tr></thead>
<tbody>${
    rows.length === 0
      ? html`<tr><td colspan="10" class="muted">No actions recorded yet.</td></tr>`
      : rows.map(
          (r) => html`<tr>
  <td>${r.id}</td><td class="nowrap">${fmtTime(r.at)}</td><td>${r.actor} <small>${r.role}, ${r.authMethod}</small></td>
  <td>${r.action}</td><td>${r.stream}</td><td class="mono clip">${JSON.stringify(r.selector)}</td>
  <td class="num">${r.selected ?? '-'}</td><td class="num">${r.affected ?? '-'}</td><td class="num">${r.failed ?? '-'}</td>
  <td><span class="${`tag ${r.outcome}`}">${r.outcome}</span>${r.detail ? html` <small>${r.detail}</small>` : ''}</td>
</tr>`,
        )
  }</tbody></table></div>
${next ? html`<nav class="paging"><a href="/audit${queryString({ before: next })}">Older</a></nav>` : ''}`;
  return page('Audit', ctx, body);
}
