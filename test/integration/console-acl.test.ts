import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { parseAclFile, substitute } from '../../scripts/deploy/redis-acl.ts';
import { csrfOf, FormClient, startTestConsole, type TestConsole, TOKENS } from '../helpers/console.ts';
import { envelopeFields, type SeedBad } from '../helpers/dead-letters.ts';
import { type OwnRedis, startOwnRedis } from '../helpers/servers-own.ts';
import { waitFor } from '../helpers/wait.ts';

// docs/console.md and deploy.md tell operators to run the console as the `streamsink-redrive` ACL user of
// k8s/redis-acl.conf: every view and action works under it (a Redis of this test's own, stopped by PID).

const ACL_FILE = fileURLToPath(new URL('../../k8s/redis-acl.conf', import.meta.url));
const [OPERATOR] = TOKENS as [(typeof TOKENS)[0]];
const BAD: SeedBad[] = [
  ...[1, 2].map((i) => ({
    fields: envelopeFields(`cur-${i}`, 'payment.captured', { currency: 'JPY', amountMinor: i }),
    reason: 'unsupported_currency' as const,
    type: 'payment.captured',
    eventId: `cur-${i}`,
  })),
  { fields: ['id', 'j-1', 'data', '{nope'], reason: 'invalid_json' },
];

let server: OwnRedis;
let c: TestConsole;

beforeAll(async () => {
  server = await startOwnRedis();
  const admin = new Redis(server.url);
  const password = randomBytes(12).toString('hex');
  const values = Object.fromEntries(
    ['PRODUCER', 'WORKER', 'REDRIVE', 'KEDA'].map((r) => [`STREAMSINK_${r}_PASSWORD`, password]),
  );
  for (const user of parseAclFile(readFileSync(ACL_FILE, 'utf8'))) {
    const [cmd, ...args] = substitute(user.argv, values);
    await admin.call(cmd as string, ...args);
  }
  admin.disconnect();
  c = await startTestConsole({
    redisUrl: server.url,
    databaseUrl: inject('databaseUrl'),
    bad: BAD,
    prefix: 'streamsink',
    consoleRedisUrl: `redis://streamsink-redrive:${password}@127.0.0.1:${server.port}`,
  });
});
afterAll(async () => {
  await c?.close();
  await server?.stop();
});

describe('console as the streamsink-redrive Redis user', () => {
  it('shows groups with throughput, lists, shows, redrives and purges', async () => {
    const client = new FormClient(c.url);
    await client.login(OPERATOR.token);
    // Two throughput samples (XINFO STREAM, XINFO GROUPS) make a rate: the sampler is allowed its commands.
    const home = await waitFor(async () => {
      const res = await client.get('/');
      return res.body.includes('now, peak') ? res : undefined;
    });
    expect(home.status).toBe(200);
    expect(home.body).toMatch(/<td>g<\/td>/);
    const path = `/streams/${c.stream}/dlq`;
    const list = await client.get(path);
    expect(list.status).toBe(200);
    expect(list.body).toMatch(/unsupported_currency <b>2<\/b>/);
    const [first] = (await c.redis.xrange(c.keys.deadLetter, '-', '+')).map((e) => e[0]);
    expect((await client.get(`${path}/${first}`)).status).toBe(200);

    const redrive = await client.post(`${path}/redrive`, {
      _csrf: csrfOf(list.body),
      reason: 'unsupported_currency',
      confirm: 'yes',
    });
    expect(redrive.status).toBe(303);
    const result = await client.get(redrive.headers.get('location') ?? '');
    expect(result.body).toContain('<b id="affected">2</b>');
    const purge = await client.post(`${path}/purge`, {
      _csrf: csrfOf(result.body),
      reason: 'invalid_json',
      confirm: 'yes',
      confirmStream: c.stream,
    });
    expect(purge.status).toBe(303);
    expect(await c.redis.xlen(c.keys.deadLetter)).toBe(0);
  });
});
