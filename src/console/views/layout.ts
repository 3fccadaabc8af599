import type { Principal } from '../auth.ts';
import { html, type SafeHtml } from '../html.ts';

/** The page frame: header with navigation and who is signed in, the body, no script. */

export interface PageContext {
  principal?: Principal | undefined;
  /** CSRF token for the forms of this page (logout included). */
  csrf: string;
}

export function page(title: string, ctx: PageContext, body: SafeHtml): string {
  const p = ctx.principal;
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>${title} · streamsink console</title>
<link rel="stylesheet" href="/assets/console.css">
</head>
<body>
<header class="top">
  <a class="brand" href="/">streamsink console</a>
  ${
    p
      ? html`<nav><a href="/">Streams</a> <a href="/audit">Audit</a></nav>
  <form class="who" method="post" action="/logout">
    <span>${p.name} (${p.role})</span>
    <input type="hidden" name="_csrf" value="${ctx.csrf}">
    ${p.via === 'session' ? html`<button type="submit" class="link">Log out</button>` : ''}
  </form>`
      : ''
  }
</header>
<main>
<h1>${title}</h1>
${body}
</main>
</body>
</html>
`.value;
}

export function csrfField(token: string): SafeHtml {
  return html`<input type="hidden" name="_csrf" value="${token}">`;
}

/** An ISO time without milliseconds, in UTC. */
export function fmtTime(value: Date | string | undefined | null): string {
  if (value === undefined || value === null || value === '') return '-';
  const d = typeof value === 'string' ? new Date(value) : value;
  return Number.isNaN(d.getTime()) ? String(value) : `${d.toISOString().slice(0, 19).replace('T', ' ')}Z`;
}

export function fmtAge(seconds: number | null): string {
  if (seconds === null || !Number.isFinite(seconds)) return '-';
  if (seconds < 1) return `${Math.round(seconds * 1000)}ms`;
  if (seconds < 60) return `${seconds.toFixed(1)}s`;
  const s = Math.floor(seconds);
  const d = Math.floor(s / 86_400);
  const h = Math.floor((s % 86_400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  if (d > 0) return `${d}d ${h}h`;
  if (h > 0) return `${h}h ${m}m`;
  return `${m}m ${s % 60}s`;
}

export function errorBox(messages: readonly string[]): SafeHtml {
  if (messages.length === 0) return html``;
  return html`<div class="error" role="alert">${messages.map((m) => html`<p>${m}</p>`)}</div>`;
}
