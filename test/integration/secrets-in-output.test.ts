import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uniqueName } from '../helpers/names.ts';
import {
  freePort,
  type OwnPostgres,
  type OwnRedis,
  startOwnPostgres,
  startOwnRedis,
} from '../helpers/servers-own.ts';
import { waitFor } from '../helpers/wait.ts';

/**
 * Every way a connection can fail (wrong password, disabled user, nothing listening, TLS failure), for Redis
 * and Postgres, through the real CLI (worker, status, dlq, publish, migrate as child processes): the user
 * names and passwords appear in no output (stdout, stderr, JSON logs), and a one-shot command says what
 * failed in one line and exits 1. Servers are this file's own, on free loopback ports, stopped by PID.
 */

const MAIN = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));
const secret = (what: string) => `${what}${randomBytes(6).toString('hex')}`;

const redisUser = secret('ruser');
const redisPassword = secret('rpw');
const redisOffUser = secret('roff');
const redisOffPassword = secret('rpwoff');
const midUser = secret('rmid');
const midPassword = secret('rpwmid');
const pgUser = secret('puser');
const pgPassword = secret('ppw');
const pgOffUser = secret('poff');
const pgOffPassword = secret('ppwoff');
const superPassword = secret('psuper');
/** Everything that must never be printed. */
const SECRETS = [
  redisUser,
  redisPassword,
  redisOffUser,
  redisOffPassword,
  midUser,
  midPassword,
  pgUser,
  pgPassword,
  pgOffUser,
  pgOffPassword,
  superPassword,
];

let redis: OwnRedis;
let admin: Redis;
let postgres: OwnPostgres;
let tlsServer: tls.Server;
let tlsPort: number;
let closedPort: number;
let certDir: string;
const children = new Set<ChildProcess>();

const redisUrl = (user: string, password: string, port = redis.port, scheme = 'redis') =>
  `${scheme}://${user}:${password}@127.0.0.1:${port}`;
const pgUrl = (user: string, password: string, port = postgres.port, query = '') =>
  `postgres://${user}:${password}@127.0.0.1:${port}/postgres${query}`;

beforeAll(async () => {
  [redis, postgres, closedPort] = await Promise.all([
    startOwnRedis(),
    startOwnPostgres({ superuserPassword: superPassword }),
    freePort(),
  ]);
  admin = new Redis(redis.url);
  await admin.call('ACL', 'SETUSER', redisUser, 'on', `>${redisPassword}`, '~*', '&*', '+@all');
  await admin.call('ACL', 'SETUSER', redisOffUser, 'off', `>${redisOffPassword}`, '~*', '&*', '+@all');
  await admin.call('ACL', 'SETUSER', midUser, 'on', `>${midPassword}`, '~*', '&*', '+@all');
  const su = new pg.Client({ connectionString: postgres.url });
  await su.connect();
  await su.query(`CREATE ROLE "${pgUser}" LOGIN PASSWORD '${pgPassword}'`);
  await su.query(`CREATE ROLE "${pgOffUser}" NOLOGIN PASSWORD '${pgOffPassword}'`);
  await su.end();
  // A TLS server whose self-signed certificate no client trusts: the handshake fails.
  certDir = mkdtempSync(path.join(os.tmpdir(), 'streamsink-cert-'));
  execFileSync('openssl', [
    ...['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'],
    ...['-keyout', path.join(certDir, 'key.pem'), '-out', path.join(certDir, 'cert.pem')],
    ...['-days', '1', '-subj', '/CN=127.0.0.1'],
  ]);
  tlsServer = tls.createServer({
    key: readFileSync(path.join(certDir, 'key.pem')),
    cert: readFileSync(path.join(certDir, 'cert.pem')),
  });
  tlsServer.on('tlsClientError', () => {});
  await new Promise<void>((resolve) => tlsServer.listen(0, '127.0.0.1', () => resolve()));
  tlsPort = (tlsServer.address() as { port: number }).port;
  // The schema the worker runs against (the superuser's URL carries a password: one more secret).
  const migrated = await cli(['migrate'], { DATABASE_URL: pgUrl('postgres', superPassword) });
  expect(migrated.code, migrated.stderr).toBe(0);
});

afterAll(async () => {
  for (const child of children) child.kill('SIGKILL');
  admin?.disconnect();
  await new Promise<void>((resolve) => (tlsServer ? tlsServer.close(() => resolve()) : resolve()));
  if (certDir) rmSync(certDir, { recursive: true, force: true });
  await Promise.all([redis?.stop(), postgres?.stop()]);
});

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Run the CLI with only the given environment. `until`, when given, is waited for in the output and then
 * the process gets SIGTERM (for a worker that keeps retrying).
 */
function cli(
  args: string[],
  env: Record<string, string>,
  options: { stdin?: string; until?: RegExp } = {},
): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [MAIN, ...args], {
      env: {
        PATH: process.env.PATH,
        METRICS_PORT: '0',
        METRICS_HOST: '127.0.0.1',
        STREAMSINK_METRICS_SAMPLE_INTERVAL_MS: '100',
        STREAMSINK_SHUTDOWN_TIMEOUT_MS: '1000',
        ...env,
      },
    });
    children.add(child);
    let stdout = '';
    let stderr = '';
    let signalled = false;
    const check = () => {
      if (options.until && !signalled && options.until.test(stdout + stderr)) {
        signalled = true;
        child.kill('SIGTERM');
      }
    };
    child.stdout.on('data', (d) => {
      stdout += d;
      check();
    });
    child.stderr.on('data', (d) => {
      stderr += d;
      check();
    });
    child.on('error', reject);
    child.on('close', (code) => {
      children.delete(child);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(options.stdin ?? '');
  });
}

/** No secret anywhere, no ioredis noise, no stack trace. */
function expectClean(run: Run, label: string): void {
  const all = run.stdout + run.stderr;
  for (const s of SECRETS) expect(all, `${label}: ${s} printed:\n${all}`).not.toContain(s);
  expect(all, label).not.toContain('Unhandled error event');
  expect(all, label).not.toMatch(/\n\s+at /);
  expect(all, label).not.toContain('"command"');
}

/** One line on stderr naming the server (host and port, secrets masked) and what failed, exit 1. */
function expectOneLine(run: Run, label: string, command: string, service: string, port: number): void {
  expect(run.code, `${label}\n${run.stdout}${run.stderr}`).toBe(1);
  const lines = withoutNodeWarnings(run.stderr).trim().split('\n');
  expect(lines, label).toHaveLength(1);
  expect(lines[0], label).toMatch(
    new RegExp(
      `^streamsink ${command}: cannot connect to ${service} at \\w+://(\\*\\*\\*:\\*\\*\\*@)?127\\.0\\.0\\.1:${port}.*; check `,
    ),
  );
}

/**
 * pg's own notice that `sslmode=require` means verify-full (a Node process warning): advice about the
 * configuration, not noise of ours, so it stays and is not counted as our line.
 */
function withoutNodeWarnings(stderr: string): string {
  return stderr.replace(/\(node:\d+\) Warning:[\s\S]*?\(Use `node --trace-warnings[^\n]*\n/g, '');
}

const STREAM = ['--stream', uniqueName('sec')];

/** status, dlq and publish against a Redis that fails this way; the worker last. */
async function oneShots(url: string, port: number, label: string) {
  const env = { REDIS_URL: url };
  const [status, dlq, publish] = await Promise.all([
    cli(['status', ...STREAM, '--group', 'g'], env),
    cli(['dlq', 'stats', ...STREAM], env),
    cli(['publish', ...STREAM], env, { stdin: '{"id":"e-1","type":"t","data":{}}\n' }),
  ]);
  for (const [name, run] of [
    ['status', status],
    ['dlq', dlq],
    ['publish', publish],
  ] as const) {
    expectClean(run, `${label} ${name}`);
    if (name === 'publish') {
      expect(run.code).toBe(1);
      expect(run.stdout).toMatch(
        new RegExp(`stopped: cannot connect to Redis at \\S+127\\.0\\.0\\.1:${port}`),
      );
    } else expectOneLine(run, `${label} ${name}`, name, 'Redis', port);
  }
}

function worker(env: Record<string, string>, until?: RegExp): Promise<Run> {
  return cli(
    ['worker', ...STREAM, '--group', 'g', '--consumer', 'c1'],
    {
      DATABASE_URL: pgUrl('postgres', superPassword),
      ...env,
    },
    until ? { until } : {},
  );
}

describe('no secret in any output when Redis fails', () => {
  it('wrong password: one-shot commands and the worker say so in one line, exit 1', async () => {
    const url = redisUrl(redisUser, 'not-the-password');
    const [, w] = await Promise.all([
      oneShots(url, redis.port, 'wrong password'),
      worker({ REDIS_URL: url }),
    ]);
    expectClean(w, 'worker');
    expect(w.stderr).toMatch(/^streamsink worker: cannot connect to Redis at .*refused the credentials/m);
    expect(w.code).toBe(1);
  });

  it('disabled ACL user: the same', async () => {
    const url = redisUrl(redisOffUser, redisOffPassword);
    const [, w] = await Promise.all([oneShots(url, redis.port, 'disabled user'), worker({ REDIS_URL: url })]);
    expectClean(w, 'worker');
    expect(w.stderr).toMatch(/^streamsink worker: cannot connect to Redis at .*refused the credentials/m);
    expect(w.code).toBe(1);
  });

  it('nothing listening: one-shot commands fail at once; the worker waits, warning', async () => {
    const url = redisUrl(redisUser, redisPassword, closedPort);
    const [, w] = await Promise.all([
      oneShots(url, closedPort, 'unreachable'),
      worker({ REDIS_URL: url }, /redis connection error/),
    ]);
    expectClean(w, 'worker');
    expect(w.stdout).toContain('ECONNREFUSED');
    expect(w.code).toBe(0);
  });

  it('TLS failure (untrusted certificate): the same', async () => {
    const url = redisUrl(redisUser, redisPassword, tlsPort, 'rediss');
    const [, w] = await Promise.all([
      oneShots(url, tlsPort, 'tls'),
      worker({ REDIS_URL: url }, /redis connection error/),
    ]);
    expectClean(w, 'worker');
    expect(w.code).toBe(0);
  });

  it('a running worker whose ACL user is disabled logs redacted warnings, never the AUTH arguments', async () => {
    const url = redisUrl(midUser, midPassword);
    const running = worker({ REDIS_URL: url }, /stream stats sampling failed/);
    const probe = new Redis(redis.url);
    try {
      await waitFor(async () => {
        const list = String(await probe.call('CLIENT', 'LIST'));
        // The worker reads through a script (read-entries.lua): its connection's last command is the script call.
        return list.includes(`user=${midUser}`) && /cmd=(xreadgroup|evalsha|eval)\b/.test(list);
      });
      await probe.call('ACL', 'SETUSER', midUser, 'off');
      await probe.call('CLIENT', 'KILL', 'USER', midUser);
    } finally {
      probe.disconnect();
    }
    const w = await running;
    expectClean(w, 'worker mid-run');
    expect(w.stdout).toContain('WRONGPASS');
  });
});

describe('no secret in any output when Postgres fails', () => {
  const goodRedis = () => redisUrl(redisUser, redisPassword);
  const cases = [
    ['wrong password', () => pgUrl(pgUser, 'not-the-password'), 'refused the credentials'],
    ['role that may not log in', () => pgUrl(pgOffUser, pgOffPassword), 'refused the credentials'],
    ['nothing listening', () => pgUrl(pgUser, pgPassword, closedPort), 'cannot be reached'],
    [
      'sslmode=require, server without TLS',
      () => pgUrl(pgUser, pgPassword, postgres.port, '?sslmode=require'),
      'TLS',
    ],
  ] as const;
  it.each(cases)('%s: migrate and the worker say so in one line, exit 1', async (_label, url, what) => {
    const port = url().match(/:(\d+)\//)?.[1] as string;
    const [migrate, w] = await Promise.all([
      cli(['migrate'], { DATABASE_URL: url() }),
      worker({ DATABASE_URL: url(), REDIS_URL: goodRedis() }),
    ]);
    for (const [name, run] of [
      ['migrate', migrate],
      ['worker', w],
    ] as const) {
      expectClean(run, `${_label} ${name}`);
      expectOneLine(run, `${_label} ${name}`, name, 'Postgres', Number(port));
      expect(run.stderr).toContain(what);
    }
  });
});
