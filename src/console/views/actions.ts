import type { ConsoleFilter } from '../dlq-filter.ts';
import { html, type SafeHtml, seg } from '../html.ts';
import { filterHiddenFields } from './dlq-list.ts';
import { csrfField, errorBox, fmtTime, type PageContext, page } from './layout.ts';

/** The two steps of redrive and purge: the dry-run count with a confirm form, then what happened. */

export type ActionScope = { ids: string[] } | { filter: ConsoleFilter };

export interface PreviewModel {
  action: 'redrive' | 'purge';
  stream: string;
  scope: ActionScope;
  /** What the dry run counted. */
  count: number;
  /** Redrive moves at most this many per run. */
  cap?: number | undefined;
  errors?: string[];
}

export function describeScope(scope: ActionScope): string {
  if ('ids' in scope)
    return scope.ids.length === 1 ? `entry ${scope.ids[0]}` : `${scope.ids.length} selected entries`;
  const f = scope.filter;
  const parts = [
    f.reason && `reason ${f.reason}`,
    f.type && `type ${f.type}`,
    f.eventId && `event id ${f.eventId}`,
    f.since && `since ${fmtTime(f.since)}`,
    f.until && `until ${fmtTime(f.until)}`,
  ].filter(Boolean);
  return parts.length > 0 ? `entries with ${parts.join(', ')}` : 'every entry';
}

function scopeFields(scope: ActionScope): SafeHtml {
  if ('ids' in scope)
    return html`${scope.ids.map((id) => html`<input type="hidden" name="id" value="${id}">`)}`;
  return filterHiddenFields(scope.filter);
}

export function previewPage(ctx: PageContext, m: PreviewModel): string {
  const base = `/streams/${seg(m.stream)}/dlq`;
  const what = describeScope(m.scope);
  const verb = m.action === 'redrive' ? 'Redrive' : 'Purge';
  const capped = m.cap !== undefined && m.count >= m.cap;
  const body =
    m.count === 0
      ? html`${errorBox(m.errors ?? [])}<p id="dry-run">Dry run: no dead letters match (${what}). Nothing to do.</p><p><a href="${base}">Back</a></p>`
      : html`${errorBox(m.errors ?? [])}
<section class="card">
<p id="dry-run">Dry run: <b id="dry-run-count">${m.count}</b> dead letter${m.count === 1 ? '' : 's'} of stream <b>${m.stream}</b> match (${what}).${
          capped ? html` One run moves at most ${m.cap}, the oldest first; run it again for the rest.` : ''
        }</p>
${
  m.action === 'redrive'
    ? html`<p>Redrive puts each event back on the stream with its original fields and event id (the worker's inbox applies it at most once) and removes it from the dead-letter stream, in one step per entry. Fix the cause first, or the events come straight back.</p>`
    : html`<p class="warn">Purge deletes these dead letters for good; the events are not re-published. Type the stream name to confirm.</p>`
}
<form method="post" action="${base}/${m.action}" class="confirm">
  ${csrfField(ctx.csrf)}${scopeFields(m.scope)}
  <input type="hidden" name="confirm" value="yes">
  ${
    m.action === 'purge'
      ? html`<label>Stream name <input name="confirmStream" autocomplete="off" required></label>`
      : ''
  }
  <div class="buttons"><button type="submit" class="${m.action === 'purge' ? 'danger' : ''}">${verb} ${m.count} ${m.count === 1 ? 'entry' : 'entries'}</button> <a href="${base}">Cancel</a></div>
</form>
</section>`;
  return page(`${verb}: ${m.stream}`, ctx, body);
}

export interface ResultModel {
  action: 'redrive' | 'purge';
  stream: string;
  scope: ActionScope;
  auditId: string;
  selected: number;
  affected: number;
  skipped?: number;
  failed?: number;
  failures?: Array<{ id: string; message: string }>;
}

export function resultPage(ctx: PageContext, m: ResultModel): string {
  const base = `/streams/${seg(m.stream)}/dlq`;
  const verb = m.action === 'redrive' ? 'Redriven' : 'Purged';
  const body = html`<section class="card">
<p id="result">${verb}: <b id="affected">${m.affected}</b> of ${m.selected} selected (${describeScope(m.scope)}).${
    m.skipped ? ` ${m.skipped} were already gone.` : ''
  }${m.failed ? ` ${m.failed} failed and stay dead-lettered.` : ''}</p>
${
  m.failures?.length
    ? html`<ul>${m.failures.map((f) => html`<li><span class="mono">${f.id}</span>: ${f.message}</li>`)}</ul>`
    : ''
}
<p>Recorded as audit entry <a href="/audit">#${m.auditId}</a>.</p>
<p><a href="${base}">Back to the dead letters of ${m.stream}</a></p>
</section>`;
  return page(`${m.action === 'redrive' ? 'Redrive' : 'Purge'}: ${m.stream}`, ctx, body);
}
