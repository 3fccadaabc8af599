// Screenshots of the operator console's main views for docs/console.md, taken in Debian's Chromium:
//   docs/console/streams.png, dlq-list.png, dlq-entry.png, redrive-confirm.png, audit.png, dlq-list-phone.png
// Seeds a demo stream under a fresh key prefix and a fresh Postgres schema (both removed afterwards), runs the
// console on a free loopback port, and drives it as an operator would.
// Usage: npm run console:screenshots   (REDIS_URL, DATABASE_URL, CHROMIUM_PATH as for the tests)
import { mkdirSync } from 'node:fs';
import { Redis } from 'ioredis';
import { startConsole } from '../src/console/start.ts';
import { createLogger } from '../src/lib/logger.ts';
import { migrate } from '../src/lib/migrations.ts';
import { createPool } from '../src/lib/pg.ts';
import { launchChromium } from '../test/helpers/chromium.ts';
import { envelopeFields, type SeedBad, seedDeadLetters } from '../test/helpers/dead-letters.ts';
import { uniqueName } from '../test/helpers/names.ts';
import { createTestSchema } from '../test/helpers/pg.ts';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const DATABASE_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const OUT = new URL('../docs/console/', import.meta.url).pathname;
const TOKEN = uniqueName('demo-operator-token');

const at = (i: number) => `2026-11-21T10:${String(i % 60).padStart(2, '0')}:00.000Z`;
const BAD: SeedBad[] = [
  ...[1, 2, 3, 4].map((i) => ({
    fields: envelopeFields(`pay-${1000 + i}`, 'payment.captured', {
      accountId: `acct-${i}`,
      amountMinor: 1250 * i,
      currency: 'JPY',
      capturedAt: at(i),
    }),
    reason: 'unsupported_currency' as const,
    type: 'payment.captured',
    eventId: `pay-${1000 + i}`,
    errorMessage: 'currency JPY is not accepted (STREAMSINK_PAYMENTS_CURRENCIES=EUR,USD,GBP)',
  })),
  ...[1, 2].map((i) => ({
    fields: envelopeFields(`ref-${i}`, 'payment.refunded', { accountId: `acct-${i}`, amountMinor: -5 }),
    reason: 'schema_violation' as const,
    type: 'payment.refunded',
    eventId: `ref-${i}`,
    errorMessage: 'data.amountMinor: Too small: expected number to be >=0',
  })),
  {
    fields: ['id', 'evt-77', 'type', 'payment.captured', 'data', '{"amountMinor": 12'],
    reason: 'invalid_json',
  },
  {
    fields: envelopeFields('evt-xss', '<img src=x onerror=alert(1)>', { note: '<script>alert(1)</script>' }),
    reason: 'unknown_type',
    type: '<img src=x onerror=alert(1)>',
    eventId: 'evt-xss',
    errorMessage: 'no handler for type <img src=x onerror=alert(1)>',
  },
];

const redis = new Redis(REDIS_URL);
const { prefix, stream, keys } = await seedDeadLetters(redis, BAD, { stream: 'payments', good: 20 });
const schema = await createTestSchema(DATABASE_URL, 'shots');
const pool = createPool({ url: schema.url, poolSize: 2 });
const browser = await launchChromium();
try {
  await migrate(pool);
  // A second group that is behind, with entries pending on two consumers: lag, pending and their age show.
  await redis.xgroup('CREATE', keys.stream, 'ledger', '0');
  await redis.xreadgroup('GROUP', 'ledger', 'ledger-1', 'COUNT', 6, 'STREAMS', keys.stream, '>');
  await redis.xreadgroup('GROUP', 'ledger', 'ledger-2', 'COUNT', 4, 'STREAMS', keys.stream, '>');
  const handle = await startConsole({
    config: {
      port: 0,
      host: '127.0.0.1',
      streams: [stream],
      tokens: [{ name: 'olivia', role: 'operator', token: TOKEN }],
      trustProxyHeader: undefined,
      proxyRoles: new Map(),
      secureCookie: 'auto',
      sessionTtlMs: 3_600_000,
      maxRedrive: 10_000,
      sampleIntervalMs: 500,
    },
    redis,
    keyPrefix: prefix,
    db: pool,
    logger: createLogger({ level: 'silent', redactPaths: [] }),
  });
  // Traffic for the sparklines: bursts of publishes, the group `g` keeping up, sampled every 500 ms.
  for (let round = 0; round < 10; round++) {
    const n = 5 + ((round * 7) % 13);
    for (let i = 0; i < n; i++)
      await redis.xadd(
        keys.stream,
        '*',
        ...envelopeFields(`live-${round}-${i}`, 'payment.captured', { currency: 'EUR' }),
      );
    const read = (await redis.xreadgroup(
      'GROUP',
      'g',
      'worker-1',
      'COUNT',
      n,
      'STREAMS',
      keys.stream,
      '>',
    )) as Array<[string, Array<[string, string[]]>]> | null;
    const ids = (read?.[0]?.[1] ?? []).map((e) => e[0]);
    if (ids.length > 0) await redis.xack(keys.stream, 'g', ...ids);
    await new Promise((r) => setTimeout(r, 500));
  }

  mkdirSync(OUT, { recursive: true });
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, deviceScaleFactor: 1 });
  const page = await context.newPage();
  await page.goto(`${handle.url}/login`);
  await page.getByLabel('Access token').fill(TOKEN);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL(`${handle.url}/`);
  await page.screenshot({ path: `${OUT}streams.png`, fullPage: true });

  const list = `${handle.url}/streams/${stream}/dlq`;
  await page.goto(list);
  await page.screenshot({ path: `${OUT}dlq-list.png`, fullPage: true });

  const xss = (await redis.xrange(keys.deadLetter, '-', '+')).at(-1)?.[0] as string;
  await page.goto(`${list}/${xss}`);
  await page.screenshot({ path: `${OUT}dlq-entry.png`, fullPage: true });

  await page.goto(`${list}?reason=unsupported_currency`);
  await page.getByRole('button', { name: 'Redrive all matching…' }).click();
  await page.screenshot({ path: `${OUT}redrive-confirm.png`, fullPage: true });
  await page.getByRole('button', { name: /^Redrive \d+ entries$/ }).click();
  await page.getByRole('link', { name: 'Audit' }).click();
  await page.screenshot({ path: `${OUT}audit.png`, fullPage: true });

  const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 2 });
  const mobile = await phone.newPage();
  await mobile.goto(`${handle.url}/login`);
  await mobile.getByLabel('Access token').fill(TOKEN);
  await mobile.getByRole('button', { name: 'Sign in' }).click();
  await mobile.waitForURL(`${handle.url}/`);
  await mobile.goto(list);
  await mobile.screenshot({ path: `${OUT}dlq-list-phone.png`, fullPage: false });

  await handle.close();
  console.log(`screenshots written to ${OUT}`);
} finally {
  await browser.close();
  await redis.del(keys.stream, keys.deadLetter);
  redis.disconnect();
  await pool.end();
  await schema.drop();
}
