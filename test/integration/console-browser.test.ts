import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { launchChromium } from '../helpers/chromium.ts';
import { startTestConsole, type TestConsole, TOKENS } from '../helpers/console.ts';
import { envelopeFields, type SeedBad } from '../helpers/dead-letters.ts';

// The console in a real browser (Debian's Chromium through playwright-core): what an operator does at 3 a.m.,
// and what an attacker-controlled dead letter or a foreign page must not be able to do.

const [OPERATOR, VIEWER] = TOKENS as [(typeof TOKENS)[0], (typeof TOKENS)[0]];
const SCRIPT = '<script>alert("xss-script")</script>';
const IMG = '<img src=x onerror="alert(\'xss-img\')">';
const BAD: SeedBad[] = [
  ...[1, 2].map((i) => ({
    fields: envelopeFields(`cur-${i}`, 'payment.captured', { currency: 'JPY', amountMinor: i }),
    reason: 'unsupported_currency' as const,
    type: 'payment.captured',
    eventId: `cur-${i}`,
  })),
  { fields: ['id', 'j-1', 'data', '{nope'], reason: 'invalid_json' },
  { fields: ['id', 'j-2', 'data', '{nope again'], reason: 'invalid_json' },
  {
    fields: envelopeFields('xss-1', `${SCRIPT}${IMG}`, { note: `${SCRIPT}${IMG}` }),
    reason: 'schema_violation',
    type: `${SCRIPT}${IMG}`,
    eventId: 'xss-1',
    errorMessage: `schema says no: ${IMG}`,
  },
];

let c: TestConsole;
let browser: Browser;
const dialogs: string[] = [];
const dlqIds = async () =>
  ((await c.redis.xrange(c.keys.deadLetter, '-', '+')) as Array<[string, string[]]>).map((e) => e[0]);

beforeAll(async () => {
  browser = await launchChromium();
  c = await startTestConsole({ redisUrl: inject('redisUrl'), databaseUrl: inject('databaseUrl'), bad: BAD });
});
afterAll(async () => {
  await browser?.close();
  await c?.close();
});

async function loggedIn(token: string): Promise<Page> {
  const context = await browser.newContext();
  const page = await context.newPage();
  page.on('dialog', (d) => {
    dialogs.push(d.message());
    void d.dismiss();
  });
  await page.goto(`${c.url}/`);
  expect(new URL(page.url()).pathname).toBe('/login');
  await page.getByLabel('Access token').fill(token);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL(`${c.url}/`);
  return page;
}

describe('console in Chromium', () => {
  it('operator: log in, filter by reason, open an entry, redrive it, see it gone and the audit row', async () => {
    const page = await loggedIn(OPERATOR.token);
    await expect(page.getByRole('heading', { name: /Streams and groups/ })).toBeDefined();
    await page.getByRole('link', { name: String(BAD.length) }).click();
    await page.waitForURL(/\/dlq$/);

    await page.getByLabel('Reason').fill('invalid_json');
    await page.getByRole('button', { name: 'Filter' }).click();
    await page.waitForURL(/reason=invalid_json/);
    const reasons = await page.locator('table.entries tbody .tag').allTextContents();
    expect(reasons).toEqual(['invalid_json', 'invalid_json']);

    const [target] = (await dlqIds()).slice(2, 3) as [string];
    await page.getByRole('link', { name: target, exact: true }).click();
    await page.waitForURL(new RegExp(`/dlq/${target}$`));
    expect(await page.locator('#error').textContent()).toBe('bad 2');
    expect(await page.getByText('{nope', { exact: true }).isVisible()).toBe(true);

    await page.getByRole('button', { name: 'Redrive this entry…' }).click();
    expect(await page.locator('#dry-run-count').textContent()).toBe('1');
    expect(await c.redis.xrange(c.keys.deadLetter, target, target)).toHaveLength(1); // the dry run moved nothing
    await page.getByRole('button', { name: 'Redrive 1 entry' }).click();
    expect(await page.locator('#affected').textContent()).toBe('1');
    expect(await c.redis.xrange(c.keys.deadLetter, target, target)).toEqual([]);
    // The result is a GET of the action's audit entry: reloading it acts no more.
    expect(new URL(page.url()).pathname).toMatch(/^\/audit\/\d+$/);
    const length = await c.redis.xlen(c.keys.stream);
    await page.reload();
    expect(await page.locator('#affected').textContent()).toBe('1');
    expect(await c.redis.xlen(c.keys.stream)).toBe(length);

    await page.goto(`${c.url}/streams/${c.stream}/dlq?reason=invalid_json`);
    const ids = await page.locator('table.entries tbody a').allTextContents();
    expect(ids).toHaveLength(1);
    expect(ids).not.toContain(target);

    await page.getByRole('link', { name: 'Audit' }).click();
    const row = page.locator('table.audit tbody tr').first();
    const text = (await row.textContent()) ?? '';
    expect(text).toContain('olivia');
    expect(text).toContain('redrive');
    expect(text).toContain(target);
    expect(text).toContain('done');
    await page.context().close();
  });

  it('viewer: sees no actions, and a redrive posted anyway (with a valid CSRF token) gets 403', async () => {
    const page = await loggedIn(VIEWER.token);
    await page.goto(`${c.url}/streams/${c.stream}/dlq`);
    expect(await page.getByRole('button', { name: /Redrive/ }).count()).toBe(0);
    const before = await c.redis.xlen(c.keys.deadLetter);
    const [id] = (await dlqIds()) as [string];
    const csrf = await page.locator('input[name=_csrf]').first().inputValue();
    // Posted from the page itself, as its own script would: same origin, session cookie, valid token.
    const status = await page.evaluate(
      async ({ path, id, csrf }) => {
        const body = new URLSearchParams({ _csrf: csrf, id, confirm: 'yes' });
        return (await fetch(path, { method: 'POST', body })).status;
      },
      { path: `/streams/${c.stream}/dlq/redrive`, id, csrf },
    );
    expect(status).toBe(403);
    expect(await c.redis.xlen(c.keys.deadLetter)).toBe(before);
    await page.context().close();
  });

  it('renders an XSS payload in a dead letter as text: no dialog, no image, the text visible', async () => {
    const page = await loggedIn(OPERATOR.token);
    const id = (await dlqIds()).at(-1) as string;
    for (const path of [`/streams/${c.stream}/dlq`, `/streams/${c.stream}/dlq/${id}`]) {
      await page.goto(`${c.url}${path}`);
      await page.waitForLoadState('load');
      expect(await page.locator('img').count()).toBe(0);
      expect(await page.locator('main script').count()).toBe(0);
    }
    expect(await page.locator('#error').textContent()).toBe(`schema says no: ${IMG}`);
    // The event type verbatim in the header, the payload pretty-printed (JSON escapes the quotes).
    expect(await page.locator('dd', { hasText: SCRIPT }).isVisible()).toBe(true);
    expect(await page.locator('dd', { hasText: SCRIPT }).textContent()).toBe(`${SCRIPT}${IMG}`);
    const payload = page.locator('pre', { hasText: '"note"' });
    expect(await payload.isVisible()).toBe(true);
    expect(await payload.textContent()).toContain(`"note": ${JSON.stringify(`${SCRIPT}${IMG}`)}`);
    expect(dialogs).toEqual([]);
    await page.context().close();
  });

  // localhost is another site than 127.0.0.1 (the session cookie, SameSite=Strict, is not even sent);
  // 127.0.0.1 on another port is the same site but another origin (the cookie is sent): the CSRF token and
  // Sec-Fetch-Site must refuse it on their own.
  for (const host of ['localhost', '127.0.0.1']) {
    it(`refuses a POST from a page on ${host}:<other port> without the CSRF token`, async () => {
      const page = await loggedIn(OPERATOR.token);
      const [id] = (await dlqIds()) as [string];
      const before = await c.redis.xlen(c.keys.deadLetter);
      // The attacker's page: a form that posts to the console as soon as it loads.
      const target = `${c.url}/streams/${c.stream}/dlq/redrive`;
      const evil: Server = createServer((_req, res) => {
        res.setHeader('content-type', 'text/html');
        res.end(`<form id="f" method="post" action="${target}"><input name="id" value="${id}">
          <input name="confirm" value="yes"></form><script>document.getElementById('f').submit()</script>`);
      });
      await new Promise<void>((resolve) => evil.listen(0, host, resolve));
      try {
        const port = (evil.address() as AddressInfo).port;
        const response = page.waitForResponse((r) => r.url() === target && r.request().method() === 'POST');
        await page.goto(`http://${host}:${port}/`);
        expect((await response).status()).toBe(403);
        expect(await c.redis.xlen(c.keys.deadLetter)).toBe(before);
        expect(await c.redis.xrange(c.keys.deadLetter, id, id)).toHaveLength(1);
      } finally {
        await new Promise((resolve) => evil.close(resolve));
        await page.context().close();
      }
    });
  }
});
