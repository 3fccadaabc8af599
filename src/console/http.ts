import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ConsoleConfig } from '../lib/config.ts';
import type { PageContext } from './views/layout.ts';
import { errorPage } from './views/login.ts';

/** Small request and reply helpers the routes share. */

export const SESSION_COOKIE = 'streamsink_console';

/** Secure cookies when told to, or (auto) when the request came over https. */
export function secureFor(config: Pick<ConsoleConfig, 'secureCookie'>, req: FastifyRequest): boolean {
  return config.secureCookie === 'always' || (config.secureCookie === 'auto' && req.protocol === 'https');
}

export function header(req: FastifyRequest, name: string): string | undefined {
  const v = req.headers[name.toLowerCase()];
  return Array.isArray(v) ? v[0] : v;
}

/** What every page needs: who is signed in and a CSRF token for its forms. */
export function pageContext(
  config: Pick<ConsoleConfig, 'secureCookie'>,
  req: FastifyRequest,
  reply: FastifyReply,
): PageContext {
  return { principal: req.principal, csrf: reply.generateCsrf({ secure: secureFor(config, req) }) };
}

export function sendHtml(reply: FastifyReply, body: string, status = 200) {
  return reply.code(status).type('text/html; charset=utf-8').send(body);
}

/** An error as a page for browsers, as JSON for API clients. */
export function sendError(reply: FastifyReply, req: FastifyRequest, status: number, message: string) {
  reply.code(status);
  if (!(req.headers.accept ?? '').includes('text/html'))
    return reply.type('application/json').send({ error: message, statusCode: status });
  let csrf = '';
  try {
    csrf = reply.generateCsrf();
  } catch {
    // before the CSRF plugin is ready: the page then has no working logout button, nothing else
  }
  return sendHtml(reply, errorPage({ principal: req.principal, csrf }, status, message), status);
}

/** A same-site path to go to after login: never another origin (`//evil`, `https:`), else `/`. */
export function safeNext(next: unknown): string {
  return typeof next === 'string' && /^\/(?![/\\])/.test(next) && next.length < 2000 ? next : '/';
}
