import type { DlqEntry } from '../../admin/dlq.ts';
import { authorize } from '../auth.ts';
import { html, seg } from '../html.ts';
import { csrfField, fmtTime, type PageContext, page } from './layout.ts';

/** One dead letter whole. Every value is text: the original fields are whatever the producer (or an attacker) sent. */

/** A field value for reading: JSON pretty-printed when it is JSON, else as it is. */
export function prettyValue(value: string): string {
  const t = value.trim();
  if (!(t.startsWith('{') || t.startsWith('['))) return value;
  try {
    return JSON.stringify(JSON.parse(t), null, 2);
  } catch {
    return value;
  }
}

export function dlqEntryPage(ctx: PageContext, stream: string, e: DlqEntry): string {
  const m = e.meta;
  const base = `/streams/${seg(stream)}/dlq`;
  const operator = ctx.principal ? authorize(ctx.principal.role, 'redrive') : false;
  const header: Array<[string, string]> = [
    ['dead-letter id', e.id],
    ['reason', m.reason],
    ['error class', m.errorClass],
    ['deliveries', String(m.deliveryCount)],
    ['first seen (published)', fmtTime(m.firstSeen)],
    ['dead-lettered (last failure)', fmtTime(m.deadLetteredAt)],
    ['event type', m.eventType ?? '-'],
    ['event id', m.eventId ?? '-'],
    ['source stream', m.sourceStream],
    ['source entry id', m.sourceId],
    ['group / consumer', `${m.group} / ${m.consumer}`],
    ['pipeline', `${m.pipeline} (version ${m.pipelineVersion})`],
  ];
  const fields: Array<[string, string]> = [];
  for (let i = 0; i + 1 < e.original.length; i += 2)
    fields.push([e.original[i] as string, e.original[i + 1] as string]);
  const body = html`<p><a href="${base}">← all dead letters of ${stream}</a></p>
<section class="card">
  <h2>Error</h2>
  <pre class="text" id="error">${m.errorMessage}</pre>
  <dl class="facts">${header.map(([k, v]) => html`<div><dt>${k}</dt><dd>${v}</dd></div>`)}</dl>
</section>
<section class="card">
  <h2>Original fields <small>shown as text</small></h2>
  ${
    fields.length === 0
      ? html`<p class="muted">The original entry had no fields.</p>`
      : fields.map(([k, v]) => html`<h3 class="mono">${k}</h3><pre class="text">${prettyValue(v)}</pre>`)
  }
</section>
${
  operator
    ? html`<section class="card actions">
  <form method="post" action="${base}/redrive">${csrfField(ctx.csrf)}<input type="hidden" name="id" value="${e.id}">
    <button type="submit" name="mode" value="ids">Redrive this entry…</button></form>
  <form method="post" action="${base}/purge">${csrfField(ctx.csrf)}<input type="hidden" name="id" value="${e.id}">
    <button type="submit" class="danger">Purge this entry…</button></form>
</section>`
    : ''
}`;
  return page(`Dead letter ${e.id}`, ctx, body);
}
