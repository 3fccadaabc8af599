import type { FastifyInstance } from 'fastify';
import { findToken } from './auth.ts';
import { pageContext, SESSION_COOKIE, safeNext, secureFor, sendHtml } from './http.ts';
import type { ConsoleDeps } from './server.ts';
import { loginPage } from './views/login.ts';

/** The token login form, which sets the session cookie, and logout. */
export function registerAuthRoutes(app: FastifyInstance, deps: ConsoleDeps): void {
  const now = deps.now ?? Date.now;
  const cookieOptions = (secure: boolean) => ({
    path: '/',
    httpOnly: true,
    sameSite: 'strict' as const,
    secure,
    maxAge: Math.floor(deps.config.sessionTtlMs / 1000),
  });

  app.get<{ Querystring: { next?: string } }>('/login', async (req, reply) => {
    if (req.principal) return reply.redirect(safeNext(req.query.next), 303);
    return sendHtml(
      reply,
      loginPage(pageContext(deps.config, req, reply), { next: safeNext(req.query.next) }),
    );
  });

  app.post<{ Body: { token?: unknown; next?: unknown } }>(
    '/login',
    { preHandler: app.csrfProtection },
    async (req, reply) => {
      const token =
        typeof req.body?.token === 'string' ? findToken(deps.config.tokens, req.body.token) : undefined;
      if (!token) {
        req.log.warn({ remote: req.ip }, 'console login refused');
        return sendHtml(
          reply,
          loginPage(pageContext(deps.config, req, reply), {
            error: 'That token is not valid.',
            next: safeNext(req.body?.next),
          }),
          401,
        );
      }
      const id = deps.sessions.create({ name: token.name, role: token.role }, now());
      req.log.info({ user: token.name, role: token.role }, 'console login');
      reply.setCookie(SESSION_COOKIE, id, cookieOptions(secureFor(deps.config, req)));
      return reply.redirect(safeNext(req.body?.next), 303);
    },
  );

  app.post('/logout', { preHandler: app.csrfProtection }, async (req, reply) => {
    const id = req.cookies[SESSION_COOKIE];
    if (id !== undefined) deps.sessions.delete(id);
    reply.clearCookie(SESSION_COOKIE, { path: '/' });
    return reply.redirect('/login', 303);
  });
}
