import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { ConsoleRole, ConsoleToken } from '../lib/config.ts';

/**
 * Who is asking, and may they. Pure decisions apart from the session store (in memory, one process): the
 * routes hand in what the request carried and act on the answer.
 */

export type AuthMethod = 'token' | 'session' | 'proxy';

export interface Principal {
  name: string;
  role: ConsoleRole;
  via: AuthMethod;
}

export type AuthResult =
  | { kind: 'ok'; principal: Principal }
  /** No credentials at all: a page redirects to the login form, anything else gets 401. */
  | { kind: 'anonymous' }
  /** Credentials given and wrong (401), or a proxy user without a role (403). */
  | { kind: 'refused'; status: 401 | 403; message: string };

export interface AuthRequest {
  /** The Authorization header, if any. */
  authorization?: string | undefined;
  /** The session cookie's value, if any. */
  sessionId?: string | undefined;
  /** The trusted proxy header's value, when a header is trusted and the request carries it. */
  proxyUser?: string | undefined;
}

export interface AuthSettings {
  tokens: readonly ConsoleToken[];
  /** Set only when a proxy header is trusted. */
  proxyRoles?: ReadonlyMap<string, ConsoleRole> | undefined;
  sessions: SessionStore;
  now: number;
}

const digest = (s: string) => createHash('sha256').update(s).digest();

/**
 * The configured token equal to `candidate`, compared in constant time: every token is compared (no early
 * exit), each as a fixed-length digest, so neither the match's position nor a common prefix shows in timing.
 */
export function findToken(tokens: readonly ConsoleToken[], candidate: string): ConsoleToken | undefined {
  const given = digest(candidate);
  let found: ConsoleToken | undefined;
  for (const t of tokens) if (timingSafeEqual(digest(t.token), given) && !found) found = t;
  return found;
}

/** The role of a user a reverse proxy vouches for: theirs, else `*`'s, else none. */
export function proxyRole(roles: ReadonlyMap<string, ConsoleRole>, user: string): ConsoleRole | undefined {
  return roles.get(user) ?? roles.get('*');
}

/**
 * Decide who the request is. Order: a trusted proxy header (the proxy authenticated the user), a bearer
 * token, a session cookie. A wrong bearer token is refused even when a valid cookie is present, so a client
 * never silently acts as someone else.
 */
export function authenticate(req: AuthRequest, settings: AuthSettings): AuthResult {
  if (settings.proxyRoles && req.proxyUser !== undefined && req.proxyUser !== '') {
    const user = req.proxyUser.trim().slice(0, 200);
    const role = proxyRole(settings.proxyRoles, user);
    if (!role) return { kind: 'refused', status: 403, message: 'this user has no console role' };
    return { kind: 'ok', principal: { name: user, role, via: 'proxy' } };
  }
  if (req.authorization !== undefined) {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(req.authorization);
    const token = match ? findToken(settings.tokens, match[1] as string) : undefined;
    if (!token) return { kind: 'refused', status: 401, message: 'invalid bearer token' };
    return { kind: 'ok', principal: { name: token.name, role: token.role, via: 'token' } };
  }
  if (req.sessionId !== undefined) {
    const principal = settings.sessions.get(req.sessionId, settings.now);
    if (principal) return { kind: 'ok', principal };
  }
  return { kind: 'anonymous' };
}

export type ConsoleAction = 'read' | 'redrive' | 'purge';

/** Viewers read; operators also redrive and purge. */
export function authorize(role: ConsoleRole, action: ConsoleAction): boolean {
  return action === 'read' || role === 'operator';
}

export interface SessionStore {
  create(principal: Omit<Principal, 'via'>, now: number): string;
  get(id: string, now: number): Principal | undefined;
  delete(id: string): void;
}

/**
 * Sessions in memory: an unguessable id (256 random bits) in the cookie, the principal here. A restart logs
 * everyone out, which is the safe direction; so does logout. At most `max` sessions: the oldest goes first.
 */
export function createSessionStore(options: { ttlMs: number; max?: number }): SessionStore {
  const max = options.max ?? 10_000;
  const sessions = new Map<string, { principal: Principal; expiresAt: number }>();
  return {
    create(principal, now) {
      const id = randomBytes(32).toString('base64url');
      if (sessions.size >= max) {
        const oldest = sessions.keys().next().value;
        if (oldest !== undefined) sessions.delete(oldest);
      }
      sessions.set(id, { principal: { ...principal, via: 'session' }, expiresAt: now + options.ttlMs });
      return id;
    },
    get(id, now) {
      const s = sessions.get(id);
      if (!s) return undefined;
      if (s.expiresAt <= now) {
        sessions.delete(id);
        return undefined;
      }
      return s.principal;
    },
    delete(id) {
      sessions.delete(id);
    },
  };
}

/**
 * A state-changing request a browser marked as coming from another site. `Sec-Fetch-Site` is set by the
 * browser and cannot be forged by page script; absent (curl, an old browser) the CSRF token alone decides.
 */
export function isCrossSite(secFetchSite: string | undefined): boolean {
  return secFetchSite !== undefined && secFetchSite !== 'same-origin' && secFetchSite !== 'none';
}
