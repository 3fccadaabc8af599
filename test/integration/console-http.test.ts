import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { PAGE_SIZE } from '../../src/console/routes-read.ts';
import { csrfOf, FormClient, startTestConsole, type TestConsole, TOKENS } from '../helpers/console.ts';
import { envelopeFields, type SeedBad } from '../helpers/dead-letters.ts';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.ts';
import { waitFor } from '../helpers/wait.ts';

// The console over HTTP against real Redis and Postgres: authentication, roles, CSRF, the dry-run-then-confirm
// actions and their audit rows, escaping of attacker-controlled dead letters.

const [OPERATOR, VIEWER] = TOKENS as [(typeof TOKENS)[0], (typeof TOKENS)[0]];

const XSS = '<script>alert("xss")</script><img src=x onerror=alert(1)>';
const BAD: SeedBad[] = [
  ...[1, 2, 3].map((i) => ({
    fields: envelopeFields(`cur-${i}`, 'payment.captured', { currency: 'JPY', amountMinor: i }),
    reason: 'unsupported_currency' as const,
    type: 'payment.captured',
    eventId: `cur-${i}`,
  })),
  { fields: ['id', 'j-1', 'data', '{nope'], reason: 'invalid_json' },
  {
    fields: envelopeFields('x-1', XSS, { note: XSS }),
    reason: 'schema_violation',
    type: XSS,
    eventId: 'x-1',
    errorMessage: `bad field ${XSS}`,
  },
];

let c: TestConsole;
const dlqPath = () => `/streams/${c.stream}/dlq`;
const dlqLen = () => c.redis.xlen(c.keys.deadLetter);
const auditRows = async () =>
  (await c.pool.query('SELECT * FROM streamsink_console_audit ORDER BY id')).rows as Array<
    Record<string, unknown>
  >;
/** Dead-letter ids in seeding order. */
const ids = async () =>
  ((await c.redis.xrange(c.keys.deadLetter, '-', '+')) as Array<[string, string[]]>).map((e) => e[0]);

beforeAll(async () => {
  c = await startTestConsole({ redisUrl: inject('redisUrl'), databaseUrl: inject('databaseUrl'), bad: BAD });
});
afterAll(async () => {
  await c?.close();
});

describe('authentication', () => {
  it('sends a browser without credentials to the login form, and an API client a 401', async () => {
    const page = await new FormClient(c.url).get('/');
    expect(page.status).toBe(303);
    expect(page.headers.get('location')).toBe('/login?next=%2F');
    const api = await fetch(`${c.url}/`);
    expect(api.status).toBe(401);
    expect(api.headers.get('www-authenticate')).toMatch(/^Bearer/);
  });

  it('takes a bearer token, refuses a wrong one, and serves pages under a strict CSP', async () => {
    const wrong = await fetch(`${c.url}/`, { headers: { authorization: 'Bearer not-a-token-at-all-123' } });
    expect(wrong.status).toBe(401);
    const ok = await fetch(`${c.url}/`, { headers: { authorization: `Bearer ${VIEWER.token}` } });
    expect(ok.status).toBe(200);
    const body = await ok.text();
    expect(body).toContain(c.stream);
    expect(body).toContain('victor (viewer)');
    const csp = ok.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("default-src 'self'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toContain('unsafe-inline');
    expect(ok.headers.get('cache-control')).toBe('no-store');
  });

  it('logs in with the form: a SameSite=Strict, HttpOnly session cookie; a wrong token is refused', async () => {
    const client = new FormClient(c.url);
    const form = await client.get('/login');
    const refused = await client.post('/login', {
      _csrf: csrfOf(form.body),
      token: 'wrong-token-0123456789',
    });
    expect(refused.status).toBe(401);
    expect(client.cookies.has('streamsink_console')).toBe(false);

    const again = await client.get('/login');
    const res = await fetch(`${c.url}/login`, {
      method: 'POST',
      redirect: 'manual',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        cookie: [...client.cookies].map(([k, v]) => `${k}=${v}`).join('; '),
      },
      body: new URLSearchParams({ _csrf: csrfOf(again.body), token: OPERATOR.token, next: '/audit' }),
    });
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe('/audit');
    const session = res.headers.getSetCookie().find((l) => l.startsWith('streamsink_console=')) ?? '';
    expect(session).toMatch(/HttpOnly/i);
    expect(session).toMatch(/SameSite=Strict/i);
    expect(session).not.toMatch(/Secure/i); // plain http on loopback, secure cookie "auto"
    expect(session).not.toContain(OPERATOR.token);
  });

  it('refuses a login from a form without the CSRF token', async () => {
    const client = new FormClient(c.url);
    await client.get('/login');
    const res = await client.post('/login', { token: OPERATOR.token });
    expect(res.status).toBe(403);
    expect(client.cookies.has('streamsink_console')).toBe(false);
  });

  it('never writes a token to its log', async () => {
    expect(c.logs.length).toBeGreaterThan(0);
    for (const t of TOKENS) expect(c.logs.join('\n')).not.toContain(t.token);
  });
});

describe('views', () => {
  it('lists dead letters with counts by reason and filters by reason', async () => {
    const client = new FormClient(c.url);
    await client.login(VIEWER.token);
    const all = await client.get(dlqPath());
    expect(all.status).toBe(200);
    expect(all.body).toMatch(/unsupported_currency <b>3<\/b>/);
    expect(all.body).toMatch(/invalid_json <b>1<\/b>/);
    const filtered = await client.get(`${dlqPath()}?reason=invalid_json`);
    const rows = [...filtered.body.matchAll(/<span class="tag">([a-z_]+)<\/span>/g)].map((m) => m[1]);
    expect(rows).toEqual(['invalid_json']);
    const byEvent = await client.get(`${dlqPath()}?eventId=cur-2`);
    expect([...byEvent.body.matchAll(/<td class="mono">([^<]+)<\/td>/g)].map((m) => m[1])).toEqual(['cur-2']);
  });

  it('says what is wrong with a bad filter', async () => {
    const client = new FormClient(c.url);
    await client.login(VIEWER.token);
    const res = await client.get(`${dlqPath()}?reason=unsuported_currency&since=yesterday`);
    expect(res.status).toBe(400);
    expect(res.body).toContain('did you mean unsupported_currency?');
    expect(res.body).toContain('since: expected a time');
  });

  it('renders attacker-controlled fields as text', async () => {
    const client = new FormClient(c.url);
    await client.login(VIEWER.token);
    const id = (await ids())[4] as string;
    for (const path of [dlqPath(), `${dlqPath()}/${id}`]) {
      const res = await client.get(path);
      expect(res.status).toBe(200);
      expect(res.body).not.toContain('<script>alert');
      expect(res.body).not.toContain('<img src=x');
      expect(res.body).toContain('&lt;script&gt;alert(&quot;xss&quot;)&lt;/script&gt;');
    }
  });

  it('shows only the configured streams (others are 404)', async () => {
    const client = new FormClient(c.url);
    await client.login(VIEWER.token);
    expect((await client.get('/streams/someone-else/dlq')).status).toBe(404);
  });
});

describe('actions', () => {
  it('refuses a viewer with 403, with a valid CSRF token, and changes nothing', async () => {
    const client = new FormClient(c.url);
    await client.login(VIEWER.token);
    const page = await client.get(dlqPath());
    const before = await dlqLen();
    const id = (await ids())[0] as string;
    for (const action of ['redrive', 'purge']) {
      const res = await client.post(`${dlqPath()}/${action}`, {
        _csrf: csrfOf(page.body),
        id,
        confirm: 'yes',
        confirmStream: c.stream,
      });
      expect(res.status).toBe(403);
    }
    expect(await dlqLen()).toBe(before);
    expect(await auditRows()).toEqual([]);
  });

  it('refuses a POST without the CSRF token, and a cross-site one with it', async () => {
    const client = new FormClient(c.url);
    await client.login(OPERATOR.token);
    const page = await client.get(dlqPath());
    const id = (await ids())[0] as string;
    const before = await dlqLen();
    const noToken = await client.post(`${dlqPath()}/redrive`, { id, confirm: 'yes' });
    expect(noToken.status).toBe(403);
    const crossSite = await client.post(
      `${dlqPath()}/redrive`,
      { _csrf: csrfOf(page.body), id, confirm: 'yes' },
      { 'sec-fetch-site': 'cross-site' },
    );
    expect(crossSite.status).toBe(403);
    // A bearer client is held to the same rule: no state change without the token.
    const bearer = await fetch(`${c.url}${dlqPath()}/redrive`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${OPERATOR.token}`,
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: new URLSearchParams({ id, confirm: 'yes' }),
    });
    expect(bearer.status).toBe(403);
    expect(await dlqLen()).toBe(before);
    expect(await auditRows()).toEqual([]);
  });

  it('redrives by filter: a dry-run count first, then the move, recorded in the audit table', async () => {
    const client = new FormClient(c.url);
    await client.login(OPERATOR.token);
    const page = await client.get(`${dlqPath()}?reason=unsupported_currency`);
    const before = await dlqLen();
    const streamBefore = await c.redis.xlen(c.keys.stream);
    const preview = await client.post(`${dlqPath()}/redrive`, {
      _csrf: csrfOf(page.body),
      reason: 'unsupported_currency',
    });
    expect(preview.status).toBe(200);
    expect(preview.body).toContain('<b id="dry-run-count">3</b>');
    expect(await dlqLen()).toBe(before); // the dry run changed nothing
    const posted = await client.post(`${dlqPath()}/redrive`, {
      _csrf: csrfOf(preview.body),
      reason: 'unsupported_currency',
      confirm: 'yes',
    });
    // Post/redirect/get: the result is the action's audit entry, so a reload cannot redrive again.
    expect(posted.status).toBe(303);
    const location = posted.headers.get('location') ?? '';
    expect(location).toMatch(/^\/audit\/\d+$/);
    const done = await client.get(location);
    expect(done.status).toBe(200);
    expect(done.body).toContain('<b id="affected">3</b>');
    expect(done.body).toContain('entries with reason unsupported_currency');
    // The counts by reason are reused between page loads, but an action refreshes them at once.
    const after = await client.get(dlqPath());
    expect(after.body).not.toMatch(/unsupported_currency <b>/);
    expect(after.body).toMatch(/invalid_json <b>1<\/b>/);
    expect(await dlqLen()).toBe(before - 3);
    expect(await c.redis.xlen(c.keys.stream)).toBe(streamBefore + 3);
    const rows = await auditRows();
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({
      actor: 'olivia',
      role: 'operator',
      auth_method: 'session',
      action: 'redrive',
      stream: c.stream,
      selector: { filter: { reason: 'unsupported_currency' } },
      selected: 3,
      affected: 3,
      failed: 0,
      outcome: 'done',
    });
    const audit = await client.get('/audit');
    expect(audit.body).toContain('olivia');
    expect(audit.body).toContain('unsupported_currency');
  });

  it('purges only after the stream name is typed', async () => {
    const client = new FormClient(c.url);
    await client.login(OPERATOR.token);
    const id = (await ids())[0] as string;
    const page = await client.get(`${dlqPath()}/${id}`);
    const preview = await client.post(`${dlqPath()}/purge`, { _csrf: csrfOf(page.body), id });
    expect(preview.body).toContain('<b id="dry-run-count">1</b>');
    const before = await dlqLen();
    const wrong = await client.post(`${dlqPath()}/purge`, {
      _csrf: csrfOf(preview.body),
      id,
      confirm: 'yes',
      confirmStream: 'not-the-stream',
    });
    expect(wrong.status).toBe(400);
    expect(await dlqLen()).toBe(before);
    const right = await client.post(`${dlqPath()}/purge`, {
      _csrf: csrfOf(wrong.body),
      id,
      confirm: 'yes',
      confirmStream: c.stream,
    });
    expect(right.status).toBe(303);
    expect((await client.get(right.headers.get('location') ?? '')).body).toContain(
      `Purged: <b id="affected">1</b> of 1 selected (entry ${id})`,
    );
    expect(await dlqLen()).toBe(before - 1);
    expect(await c.redis.xrange(c.keys.deadLetter, id, id)).toEqual([]);
    const last = (await auditRows()).at(-1);
    expect(last).toMatchObject({
      action: 'purge',
      actor: 'olivia',
      selected: 1,
      affected: 1,
      outcome: 'done',
    });
    expect(last?.selector).toEqual({ ids: [id], count: 1 });
  });
});

describe('when the audit table cannot be written', () => {
  let bare: TestConsole;
  beforeAll(async () => {
    bare = await startTestConsole({
      redisUrl: inject('redisUrl'),
      databaseUrl: inject('databaseUrl'),
      bad: BAD.slice(0, 1),
      unmigrated: true,
    });
  });
  afterAll(async () => {
    await bare?.close();
  });

  it('refuses the action and moves nothing', async () => {
    const client = new FormClient(bare.url);
    await client.login(OPERATOR.token);
    const path = `/streams/${bare.stream}/dlq`;
    const page = await client.get(path);
    const before = await bare.redis.xlen(bare.keys.deadLetter);
    const streamBefore = await bare.redis.xlen(bare.keys.stream);
    const res = await client.post(`${path}/redrive`, {
      _csrf: csrfOf(page.body),
      reason: 'unsupported_currency',
      confirm: 'yes',
    });
    expect(res.status).toBe(503);
    expect(res.body).toContain('nothing was done');
    expect(await bare.redis.xlen(bare.keys.deadLetter)).toBe(before);
    expect(await bare.redis.xlen(bare.keys.stream)).toBe(streamBefore);
  });
});

describe('behind an authenticating reverse proxy', () => {
  let proxied: TestConsole;
  beforeAll(async () => {
    proxied = await startTestConsole({
      redisUrl: inject('redisUrl'),
      databaseUrl: inject('databaseUrl'),
      bad: BAD.slice(0, 1),
      config: { trustProxyHeader: 'x-forwarded-user', proxyRoles: new Map([['alice', 'operator']]) },
    });
  });
  afterAll(async () => {
    await proxied?.close();
  });

  it('takes the user from the trusted header, maps the role, refuses users without one', async () => {
    const alice = await fetch(`${proxied.url}/`, { headers: { 'x-forwarded-user': 'alice' } });
    expect(alice.status).toBe(200);
    expect(await alice.text()).toContain('alice (operator)');
    const mallory = await fetch(`${proxied.url}/`, { headers: { 'x-forwarded-user': 'mallory' } });
    expect(mallory.status).toBe(403);
  });

  it('is ignored where it is not trusted (the default)', async () => {
    const res = await fetch(`${c.url}/`, { headers: { 'x-forwarded-user': 'alice' } });
    expect(res.status).toBe(401);
  });
});

describe('paging by id', () => {
  let many: TestConsole;
  const N = PAGE_SIZE + 7;
  beforeAll(async () => {
    many = await startTestConsole({
      redisUrl: inject('redisUrl'),
      databaseUrl: inject('databaseUrl'),
      bad: Array.from({ length: N }, (_, i) => ({
        fields: ['id', `p-${i}`, 'data', '{nope'],
        reason: 'invalid_json' as const,
      })),
    });
  });
  afterAll(async () => {
    await many?.close();
  });

  it('shows the newest page first and links to the older rest, with no entry twice or missed', async () => {
    const client = new FormClient(many.url);
    await client.login(VIEWER.token);
    const path = `/streams/${many.stream}/dlq`;
    const shown = (body: string) =>
      [...body.matchAll(/<td class="nowrap"><a href="[^"]+">(\d+-\d+)<\/a><\/td>/g)].map(
        (m) => m[1] as string,
      );
    const first = await client.get(path);
    const older = /<a href="([^"]+)">Older<\/a>/.exec(first.body)?.[1]?.replaceAll('&amp;', '&');
    expect(older).toBeDefined();
    const second = await client.get(older as string);
    expect(/>Older<\/a>/.test(second.body)).toBe(false);
    const all = (await many.redis.xrange(many.keys.deadLetter, '-', '+')).map((e) => e[0]).reverse();
    expect(shown(first.body)).toEqual(all.slice(0, PAGE_SIZE));
    expect(shown(second.body)).toEqual(all.slice(PAGE_SIZE));
  });
});

describe('while Redis is unreachable', () => {
  let cut: TestConsole;
  let proxy: TcpProxy;
  beforeAll(async () => {
    const redisUrl = new URL(inject('redisUrl'));
    proxy = await startTcpProxy({ targetHost: redisUrl.hostname, targetPort: Number(redisUrl.port || 6379) });
    const through = new URL(redisUrl);
    through.hostname = '127.0.0.1';
    through.port = String(proxy.port);
    cut = await startTestConsole({
      redisUrl: inject('redisUrl'),
      databaseUrl: inject('databaseUrl'),
      bad: BAD.slice(0, 3),
      consoleRedisUrl: through.toString(),
    });
  });
  afterAll(async () => {
    await cut?.close();
    await proxy?.close();
  });

  it('answers 503 instead of hanging, records a failed redrive as failed, moves nothing, and recovers', async () => {
    const client = new FormClient(cut.url);
    await client.login(OPERATOR.token);
    const path = `/streams/${cut.stream}/dlq`;
    const page = await client.get(path);
    proxy.cut();
    expect((await client.get('/')).status).toBe(503);
    const failed = await client.post(`${path}/redrive`, {
      _csrf: csrfOf(page.body),
      reason: 'unsupported_currency',
      confirm: 'yes',
    });
    expect(failed.status).toBe(503);
    expect(failed.body).not.toContain('redis://');
    expect(await cut.redis.xlen(cut.keys.deadLetter)).toBe(3);
    const rows = (await cut.pool.query('SELECT action, outcome, affected FROM streamsink_console_audit'))
      .rows;
    expect(rows).toEqual([{ action: 'redrive', outcome: 'failed', affected: null }]);

    proxy.restore();
    const again = await waitFor(async () => {
      const res = await client.post(`${path}/redrive`, {
        _csrf: csrfOf(failed.body),
        reason: 'unsupported_currency',
        confirm: 'yes',
      });
      return res.status === 303 ? res : undefined;
    });
    expect((await client.get(again.headers.get('location') ?? '')).body).toContain('<b id="affected">3</b>');
    expect(await cut.redis.xlen(cut.keys.deadLetter)).toBe(0);
  });
});
