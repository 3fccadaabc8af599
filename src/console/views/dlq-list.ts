import type { DlqStats } from '../../admin/dlq.ts';
import { authorize } from '../auth.ts';
import { type ConsoleFilter, filterParams } from '../dlq-filter.ts';
import type { DlqPage } from '../dlq-page.ts';
import { html, queryString, type SafeHtml, seg } from '../html.ts';
import { csrfField, errorBox, fmtTime, type PageContext, page } from './layout.ts';

/** The dead-letter list: counts by reason, filters, one page of entries, and the operator's actions. */

export interface DlqListModel {
  stream: string;
  stats: DlqStats | undefined;
  /** When the counts were taken (they are reused for a few seconds). */
  statsAtMs?: number;
  filter: ConsoleFilter;
  before: string | undefined;
  errors: string[];
  page: DlqPage;
}

/** `<input type="datetime-local">` wants `YYYY-MM-DDTHH:MM[:SS]` (the console reads it as UTC). */
const localValue = (d: Date | undefined) => (d ? d.toISOString().slice(0, 19) : '');

export function filterHiddenFields(filter: ConsoleFilter): SafeHtml {
  return html`${Object.entries(filterParams(filter)).map(([k, v]) =>
    v === undefined ? '' : html`<input type="hidden" name="${k}" value="${v}">`,
  )}`;
}

export function dlqListPage(ctx: PageContext, m: DlqListModel): string {
  const base = `/streams/${seg(m.stream)}/dlq`;
  const operator = ctx.principal ? authorize(ctx.principal.role, 'redrive') : false;
  const f = m.filter;
  const reasons = Object.entries(m.stats?.byReason ?? {}).sort((a, b) => b[1] - a[1]);
  const counts = html`<section class="card">
  <h2>By reason <small>${m.stats?.total ?? 0} in total${m.stats?.unreadable ? `, ${m.stats.unreadable} unreadable` : ''}${
    m.statsAtMs === undefined ? '' : `, counted ${fmtTime(new Date(m.statsAtMs))}`
  }</small></h2>
  ${
    reasons.length === 0
      ? html`<p class="muted">No dead letters.</p>`
      : html`<ul class="chips">${reasons.map(
          ([reason, n]) =>
            html`<li><a href="${base}${queryString({ reason })}" class="${f.reason === reason ? 'chip on' : 'chip'}">${reason} <b>${n}</b></a></li>`,
        )}</ul>`
  }
</section>`;
  const form = html`<form class="filters card" method="get" action="${base}">
  <label>Reason <input name="reason" value="${f.reason ?? ''}" list="reasons" autocomplete="off"></label>
  <datalist id="reasons">${reasons.map(([r]) => html`<option value="${r}">`)}</datalist>
  <label>Type <input name="type" value="${f.type ?? ''}" autocomplete="off"></label>
  <label>Event id <input name="eventId" value="${f.eventId ?? ''}" autocomplete="off"></label>
  <label>Since (UTC) <input type="datetime-local" step="1" name="since" value="${localValue(f.since)}"></label>
  <label>Until (UTC) <input type="datetime-local" step="1" name="until" value="${localValue(f.until)}"></label>
  <div class="buttons"><button type="submit">Filter</button> <a href="${base}">Clear</a></div>
</form>`;
  const rows = m.page.entries.map(
    (e) => html`<tr>
    ${operator ? html`<td><input type="checkbox" name="id" value="${e.id}" aria-label="select ${e.id}"></td>` : ''}
    <td class="nowrap"><a href="${base}/${seg(e.id)}">${e.id}</a></td>
    <td class="nowrap">${fmtTime(e.meta.deadLetteredAt)}</td>
    <td><span class="tag">${e.meta.reason}</span></td>
    <td>${e.meta.eventType ?? '-'}</td>
    <td class="mono">${e.meta.eventId ?? '-'}</td>
    <td class="num">${e.meta.deliveryCount}</td>
    <td class="clip">${e.meta.errorMessage}</td>
  </tr>`,
  );
  const paging = html`<nav class="paging">
  ${m.before ? html`<a href="${base}${queryString(filterParams(f))}">Newest</a>` : ''}
  ${m.page.next ? html`<a href="${base}${queryString({ ...filterParams(f), before: m.page.next })}">Older</a>` : ''}
  ${m.page.stoppedEarly ? html`<span class="muted">(stopped after searching many entries; Older searches on)</span>` : ''}
</nav>`;
  const table = html`<div class="scroll"><table class="entries">
  <thead><tr>${operator ? html`<th></th>` : ''}<th>id</th><th>dead-lettered</th><th>reason</th><th>type</th><th>event id</th><th>deliveries</th><th>error</th></tr></thead>
  <tbody>${rows.length > 0 ? rows : html`<tr><td colspan="8" class="muted">No matching entries.</td></tr>`}</tbody>
</table></div>`;
  const actions = operator
    ? html`<section class="card actions">
  <h2>Act on the filter</h2>
  <p class="muted">Both show how many entries they would touch and ask again before doing anything.</p>
  <form method="post" action="${base}/redrive">${csrfField(ctx.csrf)}${filterHiddenFields(f)}
    <button type="submit">Redrive all matching…</button></form>
  <form method="post" action="${base}/purge">${csrfField(ctx.csrf)}${filterHiddenFields(f)}
    <button type="submit" class="danger">Purge all matching…</button></form>
</section>`
    : html`<p class="muted">Signed in as a viewer: read-only.</p>`;
  const list = operator
    ? html`<form method="post" action="${base}/redrive">${csrfField(ctx.csrf)}${table}
  <div class="buttons"><button type="submit" name="mode" value="ids">Redrive selected…</button></div></form>`
    : table;
  const unreadable = m.page.unreadable
    ? html`<p class="muted">${m.page.unreadable} entries on this page are not in the dead-letter layout and are not shown.</p>`
    : '';
  return page(
    `Dead letters: ${m.stream}`,
    ctx,
    html`${errorBox(m.errors)}${counts}${form}${list}${unreadable}${paging}${actions}`,
  );
}
