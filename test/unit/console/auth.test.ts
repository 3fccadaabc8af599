import { describe, expect, it } from 'vitest';
import {
  authenticate,
  authorize,
  createSessionStore,
  findToken,
  isCrossSite,
  proxyRole,
} from '../../../src/console/auth.ts';
import { safeNext } from '../../../src/console/http.ts';
import type { ConsoleToken } from '../../../src/lib/config.ts';

const TOKENS: ConsoleToken[] = [
  { name: 'olivia', role: 'operator', token: 'op-token-0123456789abcdef' },
  { name: 'victor', role: 'viewer', token: 'viewer-token-0123456789abcdef' },
];
const sessions = () => createSessionStore({ ttlMs: 1000 });

describe('console authentication', () => {
  it('finds a token only by its exact value', () => {
    expect(findToken(TOKENS, 'op-token-0123456789abcdef')?.name).toBe('olivia');
    expect(findToken(TOKENS, 'op-token-0123456789abcde')).toBeUndefined();
    expect(findToken(TOKENS, 'op-token-0123456789abcdefX')).toBeUndefined();
    expect(findToken(TOKENS, '')).toBeUndefined();
    expect(findToken([], 'anything')).toBeUndefined();
  });

  it('takes a bearer token, refuses a wrong or malformed one', () => {
    const s = { tokens: TOKENS, sessions: sessions(), now: 0 };
    expect(authenticate({ authorization: 'Bearer viewer-token-0123456789abcdef' }, s)).toEqual({
      kind: 'ok',
      principal: { name: 'victor', role: 'viewer', via: 'token' },
    });
    expect(authenticate({ authorization: 'Bearer nope' }, s)).toMatchObject({ kind: 'refused', status: 401 });
    expect(authenticate({ authorization: 'Basic b2xpdmlhOng=' }, s)).toMatchObject({
      kind: 'refused',
      status: 401,
    });
    expect(authenticate({}, s)).toEqual({ kind: 'anonymous' });
  });

  it('a wrong bearer token is refused even beside a valid session', () => {
    const store = sessions();
    const id = store.create({ name: 'olivia', role: 'operator' }, 0);
    const s = { tokens: TOKENS, sessions: store, now: 0 };
    expect(authenticate({ sessionId: id }, s)).toMatchObject({ kind: 'ok', principal: { via: 'session' } });
    expect(authenticate({ sessionId: id, authorization: 'Bearer wrong' }, s)).toMatchObject({
      kind: 'refused',
    });
  });

  it('sessions expire, can be deleted, and unknown ids are anonymous', () => {
    const store = sessions();
    const id = store.create({ name: 'olivia', role: 'operator' }, 0);
    expect(id).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(store.get(id, 999)?.name).toBe('olivia');
    expect(store.get(id, 1000)).toBeUndefined();
    const other = store.create({ name: 'victor', role: 'viewer' }, 0);
    store.delete(other);
    expect(store.get(other, 1)).toBeUndefined();
    expect(authenticate({ sessionId: 'made-up' }, { tokens: TOKENS, sessions: store, now: 1 })).toEqual({
      kind: 'anonymous',
    });
  });

  it('keeps at most max sessions, dropping the oldest', () => {
    const store = createSessionStore({ ttlMs: 1000, max: 2 });
    const a = store.create({ name: 'a', role: 'viewer' }, 0);
    const b = store.create({ name: 'b', role: 'viewer' }, 0);
    const c = store.create({ name: 'c', role: 'viewer' }, 0);
    expect([store.get(a, 1), store.get(b, 1)?.name, store.get(c, 1)?.name]).toEqual([undefined, 'b', 'c']);
  });

  it('trusts a proxy header only when configured, mapping users to roles', () => {
    const roles = new Map([
      ['alice', 'operator' as const],
      ['*', 'viewer' as const],
    ]);
    const s = { tokens: TOKENS, sessions: sessions(), now: 0 };
    expect(authenticate({ proxyUser: 'alice' }, s)).toEqual({ kind: 'anonymous' }); // not trusted
    expect(authenticate({ proxyUser: 'alice' }, { ...s, proxyRoles: roles })).toMatchObject({
      kind: 'ok',
      principal: { name: 'alice', role: 'operator', via: 'proxy' },
    });
    expect(authenticate({ proxyUser: 'bob' }, { ...s, proxyRoles: roles })).toMatchObject({
      principal: { role: 'viewer' },
    });
    const strict = new Map([['alice', 'operator' as const]]);
    expect(authenticate({ proxyUser: 'bob' }, { ...s, proxyRoles: strict })).toMatchObject({
      kind: 'refused',
      status: 403,
    });
    expect(proxyRole(strict, 'bob')).toBeUndefined();
  });
});

describe('console authorization and request checks', () => {
  it('lets viewers read only; operators also redrive and purge', () => {
    expect(authorize('viewer', 'read')).toBe(true);
    expect(authorize('viewer', 'redrive')).toBe(false);
    expect(authorize('viewer', 'purge')).toBe(false);
    expect(authorize('operator', 'redrive')).toBe(true);
    expect(authorize('operator', 'purge')).toBe(true);
  });

  it('treats only same-origin (or no Sec-Fetch-Site) as not cross-site', () => {
    expect(isCrossSite(undefined)).toBe(false);
    expect(isCrossSite('same-origin')).toBe(false);
    expect(isCrossSite('none')).toBe(false);
    expect(isCrossSite('same-site')).toBe(true);
    expect(isCrossSite('cross-site')).toBe(true);
  });

  it('redirects after login only to a path on this console', () => {
    expect(safeNext('/streams/x/dlq?reason=a')).toBe('/streams/x/dlq?reason=a');
    expect(safeNext('//evil.example/')).toBe('/');
    expect(safeNext('/\\evil.example')).toBe('/');
    expect(safeNext('https://evil.example/')).toBe('/');
    expect(safeNext(undefined)).toBe('/');
  });
});
