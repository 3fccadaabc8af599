import { type ChildProcess, spawn } from 'node:child_process';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { waitFor } from '../helpers/wait.ts';

/**
 * Slow-header connections against the ops server, in a process with a low file limit, as in the incident
 * where thousands of them took a worker to its file limit and Redis reconnects failed with EMFILE. The
 * server runs in its own process (test/fixtures/ops-server-child.ts) so its descriptors can be counted and
 * limited without the test runner's own.
 */

const CHILD = fileURLToPath(new URL('../fixtures/ops-server-child.ts', import.meta.url));
const CAP = 20;
const HEADERS_TIMEOUT_MS = 1000;
const SLOW_CLIENTS = 200;
/** Room for the ~30 descriptors Node and the Redis client hold, plus the cap; far below SLOW_CLIENTS. */
const FILE_LIMIT = 128;

interface Stats {
  connections: number;
  /** -1 when the child could not even list its descriptors (`error` says why: EMFILE). */
  fds: number;
  error?: string;
}

let child: ChildProcess;
let port = 0;
let seq = 0;

function ask<T>(cmd: string): Promise<T> {
  const mine = ++seq;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no answer to ${cmd}`)), 5000);
    const onMessage = (message: { seq?: number } & T) => {
      if (message.seq !== mine) return;
      clearTimeout(timer);
      child.off('message', onMessage);
      resolve(message);
    };
    child.on('message', onMessage);
    child.send({ cmd, seq: mine });
  });
}

beforeAll(async () => {
  // `exec` keeps one process: the PID we stop is the server's, and the IPC channel survives the exec.
  child = spawn('sh', ['-c', `ulimit -n ${FILE_LIMIT} && exec "$0" "$1"`, process.execPath, CHILD], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    env: {
      ...process.env,
      REDIS_URL: inject('redisUrl'),
      OPS_MAX_CONNECTIONS: String(CAP),
      OPS_HEADERS_TIMEOUT_MS: String(HEADERS_TIMEOUT_MS),
    },
  });
  port = await new Promise<number>((resolve, reject) => {
    child.once('message', (m: { port: number }) => resolve(m.port));
    child.once('exit', (code) => reject(new Error(`ops server child exited with ${code}`)));
  });
});

afterAll(async () => {
  if (child.exitCode === null && child.pid !== undefined) {
    const exited = new Promise((resolve) => child.once('exit', resolve));
    process.kill(child.pid, 'SIGKILL');
    await exited;
  }
});

/** A client that sends a request line and then one header line every 200 ms, never finishing its headers. */
function slowClient(): { socket: net.Socket; closed: Promise<string> } {
  const socket = net.connect(port, '127.0.0.1');
  let received = '';
  let timer: NodeJS.Timeout | undefined;
  socket.on('connect', () => {
    socket.write('GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n');
    timer = setInterval(() => socket.write(`X-Slow-${Date.now()}: 1\r\n`), 200);
  });
  socket.on('data', (chunk) => {
    received += chunk.toString();
  });
  socket.on('error', () => {});
  const closed = new Promise<string>((resolve) =>
    socket.on('close', () => {
      clearInterval(timer);
      resolve(received);
    }),
  );
  return { socket, closed };
}

describe('ops server under a flood of slow-header connections', () => {
  it('keeps its connections under the cap, drops slow clients, and Redis keeps working', async () => {
    const baseline = await ask<Stats>('stats');
    const clients = Array.from({ length: SLOW_CLIENTS }, slowClient);
    const peak = { connections: 0, fds: 0, error: '' };
    const sample = async () => {
      const s = await ask<Stats>('stats');
      // A server without a connection count (-1) or a child at its file limit counts as over the cap.
      peak.connections = Math.max(
        peak.connections,
        s.connections < 0 ? Number.POSITIVE_INFINITY : s.connections,
      );
      peak.fds = Math.max(peak.fds, s.fds < 0 ? Number.POSITIVE_INFINITY : s.fds);
      peak.error ||= s.error ?? '';
      return s;
    };
    // Every client has connected or been turned away, and the server holds a full cap of slow ones.
    await waitFor(
      async () => {
        const s = await sample();
        return clients.every((c) => c.socket.connecting === false) && s.connections === CAP;
      },
      {
        timeoutMs: 8000,
        describe: async () => `peak ${JSON.stringify(peak)}, redis ${JSON.stringify(await ask('redis'))}`,
      },
    );
    // (d) While the cap is full, a new Redis connection (what a reconnect needs) still gets a descriptor.
    expect(await ask<{ ok: boolean; error?: string }>('redis')).toMatchObject({ ok: true });
    await sample();

    // (b) Every slow client is closed: turned away at the cap, or answered 408 after the headers timeout.
    const started = Date.now();
    const replies = await Promise.race([
      Promise.all(clients.map((c) => c.closed)),
      new Promise<never>((_, reject) =>
        setTimeout(() => reject(new Error(`slow clients still open; peak ${JSON.stringify(peak)}`)), 8000),
      ),
    ]);
    // Node would hold them for 60 s (its default headers timeout, checked every 30 s); slack for a loaded box.
    expect(Date.now() - started).toBeLessThan(HEADERS_TIMEOUT_MS + 6000);
    const timedOut = replies.filter((r) => r.startsWith('HTTP/1.1 408')).length;
    expect(timedOut).toBeGreaterThanOrEqual(CAP);
    expect(replies.every((r) => r === '' || r.startsWith('HTTP/1.1 408'))).toBe(true);

    // (a) At most the cap was ever open, and the process's descriptors grew by no more than that.
    expect(peak.connections).toBeLessThanOrEqual(CAP);
    expect(peak.fds).toBeLessThanOrEqual(baseline.fds + CAP + 5);

    // (c) Once they are gone, /metrics answers, and the descriptors are back to where they were.
    const res = await fetch(`http://127.0.0.1:${port}/metrics`);
    expect(res.status).toBe(200);
    await res.text();
    expect(await ask<{ ok: boolean }>('redis')).toMatchObject({ ok: true });
    await waitFor(async () => (await ask<Stats>('stats')).fds <= baseline.fds + 2, { timeoutMs: 5000 });
  });
});
