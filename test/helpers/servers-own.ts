import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { chownSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { portOpen } from './servers.ts';
import { waitFor } from './wait.ts';

/**
 * Redis and Postgres instances owned by one test or chaos run, on free loopback ports, in a temp directory,
 * so they can be killed and restarted without touching the shared servers. Each is stopped by its own PID
 * (Redis) or by `pg_ctl -D <its data dir>` (Postgres), never by name.
 */

const run = promisify(execFile);
export const PG_BIN = process.env.STREAMSINK_PG_BIN ?? findPgBin();

/** The newest Debian-style /usr/lib/postgresql/<major>/bin, or 15's when none is found. */
function findPgBin(): string {
  try {
    const majors = readdirSync('/usr/lib/postgresql')
      .filter((d) => /^\d+$/.test(d))
      .sort((a, b) => Number(b) - Number(a));
    if (majors[0] !== undefined) return `/usr/lib/postgresql/${majors[0]}/bin`;
  } catch {
    // not a Debian layout
  }
  return '/usr/lib/postgresql/15/bin';
}

/** A TCP port on 127.0.0.1 that was free a moment ago. */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no TCP address');
  return address.port;
}

export interface OwnRedis {
  readonly port: number;
  readonly url: string;
  readonly dir: string;
  /** PID of the current redis-server process. */
  pid(): number | undefined;
  /** Kill the process (SIGKILL by default: a crash) and wait for it to exit. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Start again on the same port and directory (with AOF on, the data comes back). */
  start(): Promise<void>;
  /** Kill and start again. */
  restart(signal?: NodeJS.Signals): Promise<void>;
  /** Stop for good and remove the directory. Safe to call twice. */
  stop(): Promise<void>;
}

export interface OwnRedisOptions {
  /** AOF with `appendfsync always`: every acknowledged write survives a crash of the process. */
  aof?: boolean;
  /** fsync policy when `aof` is on; default `always`. */
  appendfsync?: 'always' | 'everysec' | 'no';
  port?: number;
}

export async function startOwnRedis(options: OwnRedisOptions = {}): Promise<OwnRedis> {
  const port = options.port ?? (await freePort());
  const dir = mkdtempSync(path.join(os.tmpdir(), 'streamsink-redis-'));
  const args = [
    '--bind',
    '127.0.0.1',
    '--port',
    String(port),
    '--dir',
    dir,
    '--save',
    '',
    '--daemonize',
    'no',
    '--maxmemory-policy',
    'noeviction',
    '--appendonly',
    options.aof ? 'yes' : 'no',
    '--logfile',
    path.join(dir, 'redis.log'),
  ];
  if (options.aof) args.push('--appendfsync', options.appendfsync ?? 'always');
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  let stopped = false;

  const start = async () => {
    const proc = spawn('redis-server', args, { stdio: 'ignore' });
    child = proc;
    exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    proc.once('error', () => {});
    await waitFor(
      async () => {
        if (proc.exitCode !== null) throw new Error(`redis-server exited with ${proc.exitCode}`);
        return portOpen('127.0.0.1', port, 200);
      },
      { timeoutMs: 20_000, describe: () => tail(path.join(dir, 'redis.log')) },
    );
    // With AOF, the port opens before the AOF is loaded; commands answer LOADING until then.
    await waitFor(async () => (await redisCli(port, 'PING')) === 'PONG', { timeoutMs: 60_000 });
  };
  const kill = async (signal: NodeJS.Signals = 'SIGKILL') => {
    const proc = child;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    proc.kill(signal);
    await exited;
  };

  await start();
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    dir,
    pid: () => child?.pid,
    kill,
    start,
    restart: async (signal) => {
      await kill(signal);
      await start();
    },
    stop: async () => {
      if (stopped) return;
      stopped = true;
      await kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** One command over a raw socket (RESP inline), so helpers need no client library; returns the first line. */
function redisCli(port: number, command: string): Promise<string> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    let buffer = '';
    const done = (value: string) => {
      socket.destroy();
      resolve(value);
    };
    socket.setTimeout(1000, () => done(''));
    socket.on('error', () => done(''));
    socket.on('connect', () => socket.write(`${command}\r\n`));
    socket.on('data', (d) => {
      buffer += d.toString('utf8');
      const end = buffer.indexOf('\r\n');
      if (end >= 0) done(buffer.slice(1, end));
    });
  });
}

export type PgStopMode = 'smart' | 'fast' | 'immediate';

export interface OwnPostgres {
  readonly port: number;
  /** Superuser URL to the `postgres` database. */
  readonly url: string;
  readonly dataDir: string;
  /** PID of the postmaster, from postmaster.pid. */
  pid(): number | undefined;
  /** `pg_ctl stop -m <mode>`: fast rolls back open transactions, immediate is a crash (recovery on start). */
  stopServer(mode?: PgStopMode): Promise<void>;
  startServer(): Promise<void>;
  restart(mode?: PgStopMode): Promise<void>;
  /** Stop (immediate) and remove the directory. Safe to call twice. */
  stop(): Promise<void>;
}

export interface OwnPostgresOptions {
  port?: number;
  /** Extra `-c name=value` server settings. */
  settings?: Record<string, string>;
  /**
   * Password auth over TCP (scram-sha-256) instead of trust: the superuser gets this password, and `url`
   * carries it. The Unix socket stays trusted.
   */
  superuserPassword?: string;
}

export async function startOwnPostgres(options: OwnPostgresOptions = {}): Promise<OwnPostgres> {
  const port = options.port ?? (await freePort());
  const root = mkdtempSync(path.join(os.tmpdir(), 'streamsink-pg-'));
  const dataDir = path.join(root, 'data');
  const socketDir = path.join(root, 'sock');
  const logFile = path.join(root, 'postgres.log');
  mkdirSync(socketDir);
  const asRoot = process.getuid?.() === 0;
  if (asRoot) {
    // initdb refuses to run as root: the cluster belongs to the postgres OS user.
    const { stdout } = await run('id', ['-u', 'postgres']);
    const { stdout: gid } = await run('id', ['-g', 'postgres']);
    for (const p of [root, socketDir]) chownSync(p, Number(stdout.trim()), Number(gid.trim()));
  }
  const pgRun = (bin: string, args: string[]) =>
    asRoot
      ? run('runuser', ['-u', 'postgres', '--', path.join(PG_BIN, bin), ...args])
      : run(path.join(PG_BIN, bin), args);

  const auth = ['-A', 'trust'];
  if (options.superuserPassword !== undefined) {
    const pwfile = path.join(root, 'pwfile');
    writeFileSync(pwfile, `${options.superuserPassword}\n`, { mode: 0o644 });
    auth.splice(0, 2, '--auth-local=trust', '--auth-host=scram-sha-256', `--pwfile=${pwfile}`);
  }
  await pgRun('initdb', ['-D', dataDir, '-U', 'postgres', ...auth, '--no-sync', '-E', 'UTF8']);
  const settings: Record<string, string> = {
    listen_addresses: '127.0.0.1',
    // The OS does not crash in these runs, only the server does; synchronous_commit stays on so a COMMIT
    // that returned is in the WAL the server replays after an immediate stop.
    fsync: 'off',
    full_page_writes: 'off',
    max_connections: '200',
    ...options.settings,
  };
  const serverOptions = [`-p ${port}`, `-k ${socketDir}`]
    .concat(Object.entries(settings).map(([k, v]) => `-c ${k}=${v}`))
    .join(' ');
  let stopped = false;

  const startServer = async () => {
    await pgRun('pg_ctl', ['-D', dataDir, '-o', serverOptions, '-l', logFile, '-w', '-t', '60', 'start']);
  };
  const stopServer = async (mode: PgStopMode = 'fast') => {
    try {
      await pgRun('pg_ctl', ['-D', dataDir, '-m', mode, '-w', '-t', '60', 'stop']);
    } catch (error) {
      // Already stopped is fine; anything else is not.
      const status = await pgRun('pg_ctl', ['-D', dataDir, 'status']).catch(() => undefined);
      if (status) throw error;
    }
  };

  await startServer();
  return {
    port,
    url:
      options.superuserPassword === undefined
        ? `postgres://postgres@127.0.0.1:${port}/postgres`
        : `postgres://postgres:${encodeURIComponent(options.superuserPassword)}@127.0.0.1:${port}/postgres`,
    dataDir,
    pid: () => {
      try {
        return Number(readFileSync(path.join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
      } catch {
        return undefined;
      }
    },
    stopServer,
    startServer,
    restart: async (mode) => {
      await stopServer(mode);
      await startServer();
    },
    stop: async () => {
      if (stopped) return;
      stopped = true;
      await stopServer('immediate');
      rmSync(root, { recursive: true, force: true });
    },
  };
}

function tail(file: string): string {
  try {
    return readFileSync(file, 'utf8').split('\n').slice(-10).join('\n');
  } catch {
    return '';
  }
}
