import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { parseAclFile, substitute } from '../../scripts/deploy/redis-acl.ts';
import { partitionTag } from '../../src/lib/partitions/partition-tags.ts';
import { partitionKeys, streamKeys } from '../../src/lib/redis/keys.ts';
import { uniqueName } from '../helpers/names.ts';
import { createTestSchema, type TestSchema } from '../helpers/pg.ts';
import { type OwnRedis, startOwnRedis } from '../helpers/servers-own.ts';
import { waitFor } from '../helpers/wait.ts';

/**
 * The ACL users of k8s/redis-acl.conf, applied line by line to a Redis of this test's own (a free loopback
 * port, killed by PID at the end): each role can do its job, with the very Lua scripts and CLI commands
 * streamsink runs, and gets NOPERM for anything outside it.
 */

const ACL_FILE = fileURLToPath(new URL('../../k8s/redis-acl.conf', import.meta.url));
const MAIN = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));
const lua = (path: string) =>
  readFileSync(fileURLToPath(new URL(`../../src/${path}`, import.meta.url)), 'utf8');
const PUBLISH_LUA = lua('producers/publish-idempotent.lua');
const DEAD_LETTER_LUA = lua('consumers/dead-letter.lua');
const DELETE_IDLE_LUA = lua('consumers/delete-idle-consumer.lua');
const REDRIVE_LUA = lua('admin/dlq-redrive.lua');

const ROLES = ['producer', 'worker', 'redrive', 'keda'] as const;
type Role = (typeof ROLES)[number];
const passwords = Object.fromEntries(ROLES.map((r) => [r, randomBytes(12).toString('hex')])) as Record<
  Role,
  string
>;

let server: OwnRedis;
let admin: Redis;
const clients: Redis[] = [];

function urlFor(role: Role): string {
  return `redis://streamsink-${role}:${passwords[role]}@127.0.0.1:${server.port}`;
}
function as(role: Role): Redis {
  // enableReadyCheck as in production (it sends INFO, granted to the roles streamsink runs with ioredis); KEDA
  // is not an ioredis client and has no INFO.
  const c = new Redis(urlFor(role), {
    maxRetriesPerRequest: 1,
    connectionName: `acl-test-${role}`,
    enableReadyCheck: role !== 'keda',
  });
  clients.push(c);
  return c;
}
/** Refused by ACL: NOPERM, or (Redis 7.0, a command inside a script) "The user executing the script can't". */
async function noPerm(p: Promise<unknown>): Promise<void> {
  await expect(p).rejects.toThrow(/^NOPERM|The user executing the script can't/);
}

beforeAll(async () => {
  server = await startOwnRedis();
  admin = new Redis(server.url);
  const values = Object.fromEntries(
    ROLES.map((r) => [`STREAMSINK_${r.toUpperCase()}_PASSWORD`, passwords[r]]),
  );
  for (const user of parseAclFile(readFileSync(ACL_FILE, 'utf8'))) {
    const [cmd, ...args] = substitute(user.argv, values);
    expect(await admin.call(cmd as string, ...args)).toBe('OK');
  }
});

afterAll(async () => {
  for (const c of clients) c.disconnect();
  admin?.disconnect();
  await server?.stop();
});

describe('Redis ACL users (k8s/redis-acl.conf)', () => {
  it('defines exactly the producer, worker, redrive and keda users, and nothing else can log in', async () => {
    const users = (await admin.call('ACL', 'USERS')) as string[];
    expect(users.sort()).toEqual(['default', ...ROLES.map((r) => `streamsink-${r}`)].sort());
    const probe = new Redis(server.url);
    clients.push(probe);
    await expect(probe.call('AUTH', 'streamsink-worker', 'wrong')).rejects.toThrow(/WRONGPASS/);
    expect(await probe.call('AUTH', 'streamsink-worker', passwords.worker)).toBe('OK');
  });

  it('producer: idempotent publish (Lua: GET/SET dedupe + XADD) and XADD; nothing else', async () => {
    const k = streamKeys('streamsink', uniqueName('acl'));
    const r = as('producer');
    const fields = ['id', 'e1', 'type', 't', 'data', '{}'];
    const reply = (await r.eval(
      PUBLISH_LUA,
      2,
      k.stream,
      k.dedupe('e1'),
      60_000,
      0,
      'a'.repeat(64),
      fields.length,
      ...fields,
    )) as [number, string];
    expect(reply[0]).toBe(1);
    const again = (await r.eval(
      PUBLISH_LUA,
      2,
      k.stream,
      k.dedupe('e1'),
      60_000,
      0,
      'a'.repeat(64),
      fields.length,
      ...fields,
    )) as [number, string];
    expect(again).toEqual([0, reply[1]]);
    expect(await r.xadd(k.stream, '*', ...fields)).toMatch(/^\d+-\d+$/);
    expect(await admin.xlen(k.stream)).toBe(2);

    await noPerm(r.set(k.stream, 'clobbered')); // SET would replace the stream
    await noPerm(r.xadd(k.deadLetter, '*', 'a', 'b'));
    await noPerm(r.xrange(k.stream, '-', '+'));
    await noPerm(r.xreadgroup('GROUP', 'g', 'c', 'STREAMS', k.stream, '>'));
    await noPerm(r.del(k.stream));
    await noPerm(r.get('other-app:secret'));
    await noPerm(r.call('FLUSHALL'));
    await noPerm(r.call('KEYS', '*'));
    await noPerm(r.call('CONFIG', 'GET', 'requirepass'));
    // Lua is checked command by command: a script cannot do what the user cannot.
    await noPerm(r.eval("return redis.call('XADD', KEYS[1], '*', 'a', 'b')", 1, k.deadLetter));
    await noPerm(r.eval("return redis.call('DEL', KEYS[1])", 1, k.stream));
  });

  it('worker: group, read, ack, claim, pending, stats, dead-letter and consumer cleanup; nothing else', async () => {
    const k = streamKeys('streamsink', uniqueName('acl'));
    const r = as('worker');
    await admin.xadd(k.stream, '*', 'id', 'e1');
    await admin.xadd(k.stream, '*', 'id', 'e2');
    await admin.xadd(k.stream, '*', 'id', 'e3');
    await admin.set(k.dedupe('e1'), 'x');

    expect(await r.xgroup('CREATE', k.stream, 'g', '0', 'MKSTREAM')).toBe('OK');
    const read = (await r.xreadgroup('GROUP', 'g', 'c1', 'COUNT', 10, 'STREAMS', k.stream, '>')) as [
      string,
      [string, string[]][],
    ][];
    const ids = read[0]?.[1].map(([id]) => id) ?? [];
    expect(ids).toHaveLength(3);
    expect(await r.xack(k.stream, 'g', ids[0] as string)).toBe(1);
    expect(await r.xclaim(k.stream, 'g', 'c1', 0, ids[1] as string, 'JUSTID')).toEqual([ids[1]]);
    const claimed = (await r.xautoclaim(k.stream, 'g', 'c2', 0, '0-0', 'COUNT', 10)) as [string, unknown[]];
    expect(claimed[1]).toHaveLength(2);
    expect(await r.xpending(k.stream, 'g')).toHaveLength(4);
    expect(await r.xpending(k.stream, 'g', '-', '+', 10, 'c2')).toHaveLength(2);
    expect(await r.xinfo('GROUPS', k.stream)).toHaveLength(1);
    expect(await r.xinfo('CONSUMERS', k.stream, 'g')).toHaveLength(2);
    expect(await r.xlen(k.stream)).toBe(3);
    expect(await r.xlen(k.deadLetter)).toBe(0);
    expect(await r.call('XGROUP', 'CREATECONSUMER', k.stream, 'g', 'c3')).toBe(1);
    const id = Number(await r.client('ID'));
    expect(await r.client('UNBLOCK', id)).toBe(0);
    expect(await r.ping()).toBe('PONG');
    // A partitioned stream's doorbells, several in one BLPOP (partitions/doorbells.ts).
    const bells = [0, 1].map(
      (p) => partitionKeys('streamsink', k.name, p, partitionTag(k.name, p, 2)).doorbell,
    );
    await admin.lpush(bells[1] as string, '1');
    expect(await r.blpop(...bells, 1)).toEqual([bells[1], '1']);

    // dead-letter.lua: XPENDING, XRANGE (copies the source entry's exact bytes), XADD dlq, XACK, atomically.
    // Record: source id, field count c, header length h, then the c items (header ending dlq.original_fields).
    const record = ['dlq.reason', 'x', 'dlq.original_fields', '1', 'id', 'e2'];
    const moved = (await r.eval(
      DEAD_LETTER_LUA,
      2,
      k.stream,
      k.deadLetter,
      'g',
      ids[1] as string,
      record.length,
      4,
      ...record,
    )) as [number, string];
    expect(moved[0]).toBe(1);
    expect(await admin.xrange(k.deadLetter, '-', '+')).toEqual([[moved[1], record]]);
    // delete-idle-consumer.lua: only consumers with nothing pending
    expect(await r.eval(DELETE_IDLE_LUA, 1, k.stream, 'g', 'c3')).toBe(1);
    expect(await r.eval(DELETE_IDLE_LUA, 1, k.stream, 'g', 'c2')).toBe(0);

    await noPerm(r.xadd(k.stream, '*', 'forged', 'event')); // only dead-letter streams take its XADDs
    await noPerm(r.eval("return redis.call('XADD', KEYS[1], '*', 'a', 'b')", 1, k.stream));
    await noPerm(r.xdel(k.stream, ids[2] as string));
    await noPerm(r.xdel(k.deadLetter, moved[1]));
    await noPerm(r.xtrim(k.stream, 'MAXLEN', 0));
    await noPerm(r.xgroup('DESTROY', k.stream, 'g'));
    await noPerm(r.xgroup('SETID', k.stream, 'g', '$'));
    await noPerm(r.get(k.dedupe('e1')));
    await noPerm(r.xrange(k.deadLetter, '-', '+'));
    await noPerm(r.del(k.stream));
    await noPerm(r.call('FLUSHDB'));
    await noPerm(r.call('CLIENT', 'KILL', 'TYPE', 'normal'));
  });

  it('redrive: read, redrive (Lua: XRANGE dlq + XADD + XDEL dlq), purge and group state; nothing else', async () => {
    const k = streamKeys('streamsink', uniqueName('acl'));
    const r = as('redrive');
    await admin.xgroup('CREATE', k.stream, 'g', '0', 'MKSTREAM');
    const dl1 = await admin.xadd(
      k.deadLetter,
      '*',
      'dlq.reason',
      'x',
      'dlq.original_fields',
      '1',
      'id',
      'e1',
    );
    const dl2 = await admin.xadd(
      k.deadLetter,
      '*',
      'dlq.reason',
      'x',
      'dlq.original_fields',
      '1',
      'id',
      'e2',
    );

    expect(await r.exists(k.stream, k.deadLetter)).toBe(2);
    expect(await r.xrange(k.deadLetter, '-', '+')).toHaveLength(2);
    expect(await r.xrevrange(k.deadLetter, '+', '-', 'COUNT', 1)).toHaveLength(1);
    const out = (await r.eval(REDRIVE_LUA, 2, k.stream, k.deadLetter, dl1 as string)) as [number, string];
    expect(out[0]).toBe(1);
    expect(await admin.xrange(k.stream, '-', '+')).toEqual([[out[1], ['id', 'e1']]]);
    expect(await r.xdel(k.deadLetter, dl2 as string)).toBe(1); // purge
    expect(await r.xlen(k.deadLetter)).toBe(0);
    expect(await r.xinfo('GROUPS', k.stream)).toHaveLength(1);
    expect(await r.xpending(k.stream, 'g')).toHaveLength(4);

    await noPerm(r.xreadgroup('GROUP', 'g', 'op', 'STREAMS', k.stream, '>'));
    await noPerm(r.xack(k.stream, 'g', out[1]));
    await noPerm(r.xdel(k.stream, out[1]));
    await noPerm(r.xadd(k.deadLetter, '*', 'a', 'b'));
    await noPerm(r.eval("return redis.call('XDEL', KEYS[1], ARGV[1])", 1, k.stream, out[1]));
    await noPerm(r.set(k.dedupe('e1'), 'x'));
    await noPerm(r.del(k.deadLetter));
  });

  it('keda: lag (XINFO GROUPS), pending (XPENDING), length (XLEN), read-only; no entries, no writes', async () => {
    const k = streamKeys('streamsink', uniqueName('acl'));
    const r = as('keda');
    await admin.xgroup('CREATE', k.stream, 'g', '0', 'MKSTREAM');
    await admin.xadd(k.stream, '*', 'id', 'e1');
    const groups = (await r.xinfo('GROUPS', k.stream)) as unknown[][];
    const info = groups[0] as unknown[];
    expect(info[info.indexOf('lag') + 1]).toBe(1);
    expect(await r.xpending(k.stream, 'g')).toEqual([0, null, null, null]);
    expect(await r.xlen(k.stream)).toBe(1);

    await noPerm(r.xrange(k.stream, '-', '+')); // payloads stay private
    await noPerm(r.xreadgroup('GROUP', 'g', 'keda', 'STREAMS', k.stream, '>'));
    await noPerm(r.xadd(k.stream, '*', 'a', 'b'));
    await noPerm(r.xgroup('CREATE', k.stream, 'g2', '0'));
    await noPerm(r.call('INFO'));
    await noPerm(r.eval('return 1', 0));
  });
});

describe('the real CLI under the ACL users', () => {
  let schema: TestSchema;
  const procs: ChildProcess[] = [];
  beforeAll(async () => {
    schema = await createTestSchema(inject('databaseUrl'), 'acl');
  });
  afterAll(async () => {
    for (const p of procs) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
    await schema?.drop();
  });

  function start(role: Role, args: string[], env: Record<string, string> = {}) {
    const child = spawn(process.execPath, [MAIN, ...args], {
      env: {
        PATH: process.env.PATH,
        REDIS_URL: urlFor(role),
        DATABASE_URL: schema.url,
        METRICS_PORT: '0',
        LOG_LEVEL: 'info',
        ...env,
      },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    procs.push(child);
    let output = '';
    child.stdout?.on('data', (d) => {
      output += d;
    });
    child.stderr?.on('data', (d) => {
      output += d;
    });
    const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    return { child, exited, output: () => output };
  }

  it('migrate, worker, publish, dlq stats, status, dlq redrive and a second worker run end to end', async () => {
    const name = uniqueName('aclpay');
    const k = streamKeys('streamsink', name);
    const workerEnv = {
      STREAMSINK_STREAM: name,
      STREAMSINK_GROUP: 'payments-projector',
      STREAMSINK_PIPELINE: 'payments',
      STREAMSINK_CONSUMER: 'w1',
      STREAMSINK_PAYMENTS_CURRENCIES: 'EUR',
    };
    const migrate = start('worker', ['migrate']);
    expect(await migrate.exited, migrate.output()).toBe(0);

    const w1 = start('worker', ['worker'], workerEnv);
    const events = Array.from({ length: 21 }, (_, i) => ({
      id: `acl-${name}-${i}`,
      type: 'payment.authorized',
      v: 1,
      key: `p${i}`,
      data: { paymentId: `p${i}`, accountId: 'a1', amountMinor: 100 + i, currency: i === 20 ? 'USD' : 'EUR' },
    }));
    const publish = start('producer', ['publish', '--stream', name, '--json']);
    publish.child.stdin?.end(events.map((e) => JSON.stringify(e)).join('\n'));
    expect(await publish.exited, publish.output()).toBe(0);
    expect(JSON.parse(publish.output().trim().split('\n').at(-1) ?? '{}')).toMatchObject({ published: 21 });

    const db = new pg.Client({ connectionString: schema.url });
    await db.connect();
    try {
      const rows = async () => Number((await db.query('SELECT count(*) AS n FROM payments')).rows[0].n);
      await waitFor(async () => (await rows()) === 20 && (await admin.xlen(k.deadLetter)) === 1, {
        describe: async () =>
          `payments ${await rows()}, dlq ${await admin.xlen(k.deadLetter)}: ${w1.output()}`,
      });
      w1.child.kill('SIGTERM');
      expect(await w1.exited, w1.output()).toBe(0);

      // Operators' read-only views under the redrive user.
      const stats = start('redrive', ['dlq', 'stats', '--stream', name, '--json']);
      expect(await stats.exited, stats.output()).toBe(0);
      const status = start('redrive', [
        'status',
        '--stream',
        name,
        '--group',
        'payments-projector',
        '--json',
      ]);
      expect(await status.exited, status.output()).toBe(0);
      expect(JSON.parse(status.output())).toMatchObject({ length: 21, deadLetter: 1, lag: 0, pending: 0 });

      const redrive = start('redrive', ['dlq', 'redrive', '--stream', name, '--all']);
      expect(await redrive.exited, redrive.output()).toBe(0);
      expect(await admin.xlen(k.deadLetter)).toBe(0);
      expect(await admin.xlen(k.stream)).toBe(22);

      const w2 = start('worker', ['worker'], {
        ...workerEnv,
        STREAMSINK_CONSUMER: 'w2',
        STREAMSINK_PAYMENTS_CURRENCIES: 'EUR,USD',
      });
      await waitFor(async () => (await rows()) === 21, {
        describe: async () => `${await rows()}: ${w2.output()}`,
      });
      w2.child.kill('SIGTERM');
      expect(await w2.exited, w2.output()).toBe(0);
      for (const out of [
        w1.output(),
        w2.output(),
        stats.output(),
        status.output(),
        redrive.output(),
        publish.output(),
      ]) {
        expect(out).not.toMatch(/NOPERM|Skipping the ready check/);
      }
    } finally {
      await db.end();
    }
  });
});
