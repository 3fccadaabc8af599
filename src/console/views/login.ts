import { html } from '../html.ts';
import { csrfField, errorBox, type PageContext, page } from './layout.ts';

export function loginPage(ctx: PageContext, options: { error?: string; next?: string }): string {
  return page(
    'Sign in',
    ctx,
    html`${errorBox(options.error ? [options.error] : [])}
<form method="post" action="/login" class="card login">
  ${csrfField(ctx.csrf)}
  <input type="hidden" name="next" value="${options.next ?? '/'}">
  <label>Access token <input type="password" name="token" autocomplete="current-password" required autofocus></label>
  <div class="buttons"><button type="submit">Sign in</button></div>
</form>
<p class="muted">Tokens are set by whoever runs the console (STREAMSINK_CONSOLE_TOKENS; see docs/console.md).</p>`,
  );
}

export function errorPage(ctx: PageContext, status: number, message: string): string {
  return page(
    status === 403 ? 'Forbidden' : status === 404 ? 'Not found' : 'Error',
    ctx,
    html`${errorBox([message])}<p><a href="/">Home</a></p>`,
  );
}
