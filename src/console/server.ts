import { randomBytes } from 'node:crypto';
import fastifyCookie from '@fastify/cookie';
import fastifyCsrf from '@fastify/csrf-protection';
import fastifyFormbody from '@fastify/formbody';
import fastifyHelmet from '@fastify/helmet';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, LogController } from 'fastify';
import type { DlqStats } from '../admin/dlq.ts';
import type { ConsoleConfig } from '../lib/config.ts';
import { StreamsinkError } from '../lib/errors.ts';
import type { Logger } from '../lib/logger.ts';
import { redactText } from '../lib/redact.ts';
import type { RedisClient as Redis } from '../lib/redis/client.ts';
import { CONSOLE_CSS } from './assets.ts';
import type { AuditStore } from './audit-store.ts';
import { authenticate, isCrossSite, type Principal, type SessionStore } from './auth.ts';
import { header, SESSION_COOKIE, sendError } from './http.ts';
import { registerActionRoutes } from './routes-actions.ts';
import { registerAuthRoutes } from './routes-auth.ts';
import { registerReadRoutes } from './routes-read.ts';
import type { StatsCache } from './stats-cache.ts';
import type { ThroughputSampler } from './throughput.ts';

/**
 * The console's HTTP server: fastify with helmet (a strict CSP: `default-src 'self'`, no inline script or
 * style), cookies, form bodies and CSRF tokens (@fastify/csrf-protection, secret in a signed HttpOnly
 * SameSite=Strict cookie). Every route but the login form and the stylesheet needs a principal; every POST
 * also needs the CSRF token and must not come from another site (`Sec-Fetch-Site`).
 */

declare module 'fastify' {
  interface FastifyRequest {
    principal?: Principal;
  }
}

export interface ConsoleDeps {
  config: ConsoleConfig;
  redis: Redis;
  keyPrefix: string;
  audit: AuditStore;
  sessions: SessionStore;
  sampler: ThroughputSampler;
  /** Counts by reason per stream (undefined: no such stream), shared between page loads for a few seconds. */
  statsCache: StatsCache<DlqStats | undefined>;
  logger: Logger;
  now?: () => number;
}

const PUBLIC_PATHS = new Set(['/login', '/assets/console.css']);

export async function buildConsoleServer(deps: ConsoleDeps): Promise<FastifyInstance> {
  const now = deps.now ?? Date.now;
  const app = Fastify({
    loggerInstance: deps.logger.child({ component: 'console' }) as FastifyBaseLogger,
    // One line per action, written by the routes; not two per page view.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: 1024 * 1024,
    // Behind a TLS-terminating proxy: only then is X-Forwarded-Proto believed (for Secure cookies).
    trustProxy: deps.config.trustProxyHeader !== undefined,
  });
  await app.register(fastifyHelmet, {
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        defaultSrc: ["'self'"],
        scriptSrc: ["'self'"],
        styleSrc: ["'self'"],
        imgSrc: ["'self'"],
        objectSrc: ["'none'"],
        baseUri: ["'none'"],
        formAction: ["'self'"],
        frameAncestors: ["'none'"],
      },
    },
    referrerPolicy: { policy: 'no-referrer' },
  });
  // The cookie secret only signs the CSRF secret's cookie; a new one per process logs nobody out that a
  // restart would not (sessions are in memory).
  await app.register(fastifyCookie, { secret: randomBytes(32).toString('hex') });
  await app.register(fastifyFormbody);
  await app.register(fastifyCsrf, {
    cookieKey: 'streamsink_csrf',
    cookieOpts: { path: '/', sameSite: 'strict', httpOnly: true, signed: true },
  });

  app.addHook('onRequest', async (req, reply) => {
    const path = req.url.split('?')[0] ?? '/';
    if (req.method === 'POST' && isCrossSite(header(req, 'sec-fetch-site'))) {
      return sendError(reply, req, 403, 'cross-site request refused');
    }
    const proxyHeader = deps.config.trustProxyHeader;
    const result = authenticate(
      {
        authorization: header(req, 'authorization'),
        sessionId: req.cookies[SESSION_COOKIE],
        proxyUser: proxyHeader ? header(req, proxyHeader) : undefined,
      },
      {
        tokens: deps.config.tokens,
        proxyRoles: proxyHeader ? deps.config.proxyRoles : undefined,
        sessions: deps.sessions,
        now: now(),
      },
    );
    if (result.kind === 'ok') {
      req.principal = result.principal;
      return;
    }
    if (PUBLIC_PATHS.has(path)) return;
    if (result.kind === 'refused') return sendError(reply, req, result.status, result.message);
    if (req.method === 'GET' && (req.headers.accept ?? '').includes('text/html'))
      return reply.redirect(`/login?next=${encodeURIComponent(req.url)}`, 303);
    reply.header('www-authenticate', 'Bearer realm="streamsink console"');
    return sendError(reply, req, 401, 'authentication required');
  });
  app.addHook('onSend', async (_req, reply, payload) => {
    // Pages show dead letters: keep them out of shared and browser caches.
    if (!String(reply.getHeader('content-type') ?? '').startsWith('text/css'))
      reply.header('cache-control', 'no-store');
    return payload;
  });

  app.setErrorHandler((error: unknown, req, reply) => {
    const status = (error as { statusCode?: number }).statusCode;
    if (typeof status === 'number' && status >= 400 && status < 500) {
      // fastify's and the CSRF plugin's own refusals (bad body, missing or invalid CSRF token).
      return sendError(reply, req, status, redactText((error as Error).message));
    }
    if (error instanceof StreamsinkError && (error.code === 'usage' || error.code === 'invalid_argument'))
      return sendError(reply, req, 400, redactText(error.message));
    req.log.error({ err: error }, 'console request failed');
    const unavailable = error instanceof StreamsinkError && error.code === 'connection_failed';
    return sendError(
      reply,
      req,
      503,
      unavailable
        ? redactText(error.message)
        : `the console could not answer (${redactText(error instanceof Error ? error.message : String(error)).slice(0, 300)}); see its log`,
    );
  });
  app.setNotFoundHandler((req, reply) => sendError(reply, req, 404, 'no such page'));

  app.get('/assets/console.css', async (_req, reply) =>
    reply.type('text/css; charset=utf-8').header('cache-control', 'public, max-age=3600').send(CONSOLE_CSS),
  );
  registerAuthRoutes(app, deps);
  registerReadRoutes(app, deps);
  registerActionRoutes(app, deps);
  return app;
}
