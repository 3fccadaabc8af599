import { html, seg } from '../html.ts';
import type { StreamOverview } from '../overview.ts';
import { sparkline } from '../throughput.ts';
import { fmtAge, type PageContext, page } from './layout.ts';

export function streamsPage(
  ctx: PageContext,
  streams: readonly StreamOverview[],
  rates: (series: string) => number[],
): string {
  const perSecond = (v: number) => `${v < 10 ? v.toFixed(1) : Math.round(v)}/s`;
  const rate = (values: number[]) => {
    const last = values[values.length - 1];
    if (last === undefined) return '-';
    return `${perSecond(last)} now, peak ${perSecond(Math.max(...values))}`;
  };
  const body = streams.map((s) => {
    const added = rates(s.name);
    return html`<section class="card">
  <h2>${s.name} <small>${s.key}</small></h2>
  <dl class="facts">
    <div><dt>length</dt><dd>${s.exists ? s.length : 'no such stream'}</dd></div>
    <div><dt>dead letters</dt><dd><a href="/streams/${seg(s.name)}/dlq">${s.deadLetter}</a></dd></div>
    <div><dt>published</dt><dd>${sparkline(added, `entries added per second, ${s.name}`)} ${rate(added)}</dd></div>
  </dl>
  ${
    s.groups.length === 0
      ? html`<p class="muted">No consumer groups.</p>`
      : html`<div class="scroll"><table>
    <thead><tr><th>group</th><th>lag</th><th>pending</th><th>oldest pending</th><th>consumers</th><th>consumed</th></tr></thead>
    <tbody>${s.groups.map((g) => {
      const read = rates(`${s.name}/${g.name}`);
      return html`<tr>
      <td>${g.name}</td>
      <td class="num">${g.lag ?? 'unknown'}</td>
      <td class="num">${g.pending}</td>
      <td class="num">${g.pending > 0 ? fmtAge(g.oldestPendingAgeSeconds) : '-'}</td>
      <td class="num">${g.consumers}</td>
      <td>${sparkline(read, `entries read per second, group ${g.name}`)} ${rate(read)}</td>
    </tr>`;
    })}</tbody>
  </table></div>`
  }
</section>`;
  });
  return page(
    'Streams and groups',
    ctx,
    html`${body}<p class="muted">Rates are sampled by this console process while it runs.</p>`,
  );
}
