import http from 'node:http';
import type { Registry } from 'prom-client';
import type { Logger } from './logger.ts';
import { redactText } from './redact.ts';

/**
 * The worker's operations endpoint: `/metrics` for Prometheus, `/healthz` for the liveness probe, `/readyz`
 * for the readiness probe. Plain node:http, so it has no dependency and answers even while the event loop is
 * busy with batches. Semantics are documented in docs/metrics.md#health-endpoints.
 */

/** What the worker reports about itself; read on every probe, so it must be cheap. */
export interface HealthSnapshot {
  /** Epoch ms of the read loop's last turn (a read returned, even empty, or a pause was re-checked). */
  loopTurnedAt: number;
  /** The sink is failing and reading is paused on purpose (Postgres outage): alive, waiting. */
  sinkFailing: boolean;
  /** The sink fails because Postgres cannot be reached at all: an outage (readiness), not a stuck worker. */
  sinkUnreachable?: boolean;
  shuttingDown: boolean;
  inFlight: number;
  /** When the entry held longest was taken (epoch ms); undefined when nothing is held. */
  oldestTakenAt?: number | undefined;
  /**
   * The read connection is down and the loop waits for it (ioredis holds a blocked XREADGROUP across a
   * reconnect): alive, waiting. Filled in by the composition root, which owns the connection.
   */
  waitingOnRedis?: boolean;
}

/** A dependency check resolves when the dependency answers and rejects (or hangs) when it does not. */
export type DependencyCheck = () => Promise<unknown>;

export interface OpsServerOptions {
  /** 0 picks a free port (tests). */
  port: number;
  /** Interface to bind; all interfaces when omitted (a pod is scraped on its own IP). */
  host?: string;
  registry: Registry;
  health: () => HealthSnapshot;
  /**
   * Named checks, e.g. `{ redis: () => redis.ping(), postgres: () => pool.query('SELECT 1') }`. Use a
   * connection that never blocks (not the XREADGROUP one, whose BLOCK would delay a PING by seconds).
   */
  checks: Record<string, DependencyCheck>;
  /** `/healthz` fails when the read loop has not turned for this long (STREAMSINK_LIVENESS_DEADLINE_MS). */
  livenessDeadlineMs: number;
  /**
   * `/healthz` fails when an entry has been held this long without its batch finishing
   * (STREAMSINK_PROGRESS_DEADLINE_MS); no such check when omitted.
   */
  progressDeadlineMs?: number;
  /** A check slower than this counts as failing. */
  checkTimeoutMs?: number;
  /**
   * Connections open at once (STREAMSINK_OPS_MAX_CONNECTIONS); more are closed as soon as they are accepted.
   * Every connection is a file descriptor shared with the Redis and Postgres clients: without a cap, slow
   * clients can take the process to its file limit, and reconnects then fail with EMFILE.
   */
  maxConnections?: number;
  /** Time a client has to send its request headers, from connecting; then 408 and close. */
  headersTimeoutMs?: number;
  /** Time a client has to send its whole request; then 408 and close. */
  requestTimeoutMs?: number;
  /** Idle time after a response before a keep-alive connection is closed. */
  keepAliveTimeoutMs?: number;
  now?: () => number;
  logger?: Logger;
}

export interface OpsServer {
  /** The port actually bound (useful with port 0). */
  readonly port: number;
  /**
   * First step of shutdown: `/readyz` answers 503 from now on, whatever the worker reports, so the pod
   * leaves the Service before its consumer stops reading.
   */
  failReadiness(): void;
  /** Connections open now (at most `maxConnections`). */
  connections(): Promise<number>;
  /** Stop listening and drop open keep-alive connections. Safe to call twice. */
  close(): Promise<void>;
}

/**
 * Limits of the ops server. Probes and scrapes are a handful of short GETs from a few clients; anything slower
 * or more numerous is broken or hostile, and must not hold connections (file descriptors) for long.
 */
export const OPS_SERVER_DEFAULTS = {
  maxConnections: 100,
  headersTimeoutMs: 5000,
  requestTimeoutMs: 10_000,
  keepAliveTimeoutMs: 5000,
} as const;

export type CheckOutcome = { ok: true } | { ok: false; error: string };

export interface Verdict {
  status: 200 | 503;
  body: Record<string, unknown>;
}

/**
 * Liveness. A dependency outage must not get every pod restarted, so a loop paused on purpose (sink failing),
 * waiting for Redis to come back, or draining for shutdown counts as alive; only a loop that stopped turning
 * otherwise is stuck.
 *
 * Work that stops moving is stuck too, even while the loop turns: an entry held longer than
 * `progressDeadlineMs` means no batch holding it finished in that time (locks never granted, a connection
 * that never answers, lock or statement timeouts retried over and over). The one exception is Postgres
 * being unreachable: readiness reports that, and restarting every worker for it would only crash-loop them.
 */
export function decideLiveness(
  snapshot: HealthSnapshot,
  now: number,
  deadlineMs: number,
  progressDeadlineMs?: number,
): Verdict {
  const sinceTurnMs = Math.max(0, now - snapshot.loopTurnedAt);
  const waiting = snapshot.sinkFailing || snapshot.waitingOnRedis === true;
  const turning = sinceTurnMs <= deadlineMs || waiting || snapshot.shuttingDown;
  const heldMs = snapshot.oldestTakenAt === undefined ? 0 : Math.max(0, now - snapshot.oldestTakenAt);
  const stalled =
    progressDeadlineMs !== undefined &&
    heldMs > progressDeadlineMs &&
    !(snapshot.sinkFailing && snapshot.sinkUnreachable === true) &&
    !snapshot.shuttingDown;
  const alive = turning && !stalled;
  return {
    status: alive ? 200 : 503,
    body: {
      status: alive ? 'ok' : turning ? 'no_progress' : 'stuck',
      loopTurnedMsAgo: sinceTurnMs,
      deadlineMs,
      oldestHeldMs: heldMs,
      progressDeadlineMs: progressDeadlineMs ?? null,
      sinkUnreachable: snapshot.sinkUnreachable === true,
      sinkFailing: snapshot.sinkFailing,
      waitingOnRedis: snapshot.waitingOnRedis === true,
      shuttingDown: snapshot.shuttingDown,
      inFlight: snapshot.inFlight,
    },
  };
}

/** Readiness: every dependency answers and the worker is not shutting down. */
export function decideReadiness(shuttingDown: boolean, checks: Record<string, CheckOutcome>): Verdict {
  const failing = Object.entries(checks)
    .filter(([, c]) => !c.ok)
    .map(([name]) => name);
  const ready = !shuttingDown && failing.length === 0;
  const detail: Record<string, string> = {};
  for (const [name, c] of Object.entries(checks)) detail[name] = c.ok ? 'ok' : c.error;
  return {
    status: ready ? 200 : 503,
    body: { status: ready ? 'ready' : 'not_ready', shuttingDown, failing, checks: detail },
  };
}

export async function startOpsServer(options: OpsServerOptions): Promise<OpsServer> {
  const now = options.now ?? Date.now;
  const checkTimeoutMs = options.checkTimeoutMs ?? 1000;
  let readinessFailed = false;
  // One probe of a dependency at a time: a check hanging in a client's offline queue during an outage is
  // shared by the probes that arrive meanwhile instead of piling up one command per probe.
  const inFlightChecks = new Map<string, Promise<CheckOutcome>>();

  const runCheck = (name: string, check: DependencyCheck): Promise<CheckOutcome> => {
    const running = inFlightChecks.get(name);
    if (running) return withTimeout(running, checkTimeoutMs);
    const attempt: Promise<CheckOutcome> = Promise.resolve()
      .then(check)
      .then(
        (): CheckOutcome => ({ ok: true }),
        (error: unknown): CheckOutcome => ({ ok: false, error: describeError(error) }),
      )
      .finally(() => inFlightChecks.delete(name));
    inFlightChecks.set(name, attempt);
    return withTimeout(attempt, checkTimeoutMs);
  };

  const readiness = async (): Promise<Verdict> => {
    const shuttingDown = readinessFailed || options.health().shuttingDown;
    const names = Object.keys(options.checks);
    const outcomes = shuttingDown
      ? names.map((): CheckOutcome => ({ ok: false, error: 'not checked: shutting down' }))
      : await Promise.all(names.map((n) => runCheck(n, options.checks[n] as DependencyCheck)));
    const byName: Record<string, CheckOutcome> = {};
    names.forEach((n, i) => {
      byName[n] = outcomes[i] as CheckOutcome;
    });
    return decideReadiness(shuttingDown, byName);
  };

  const handle = async (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      send(res, 405, 'text/plain; charset=utf-8', 'method not allowed\n', { allow: 'GET, HEAD' });
      return;
    }
    switch (path) {
      case '/metrics': {
        const text = await options.registry.metrics();
        send(res, 200, options.registry.contentType, text);
        return;
      }
      case '/healthz': {
        const v = decideLiveness(
          options.health(),
          now(),
          options.livenessDeadlineMs,
          options.progressDeadlineMs,
        );
        sendJson(res, v);
        return;
      }
      case '/readyz': {
        sendJson(res, await readiness());
        return;
      }
      default:
        send(res, 404, 'text/plain; charset=utf-8', 'not found: try /metrics, /healthz, /readyz\n');
    }
  };

  const limits = { ...OPS_SERVER_DEFAULTS, ...definedOnly(options) };
  const server = http.createServer(
    {
      headersTimeout: limits.headersTimeoutMs,
      requestTimeout: Math.max(limits.requestTimeoutMs, limits.headersTimeoutMs),
      // Node checks those two timeouts on this interval (30 s by default): a slow client would then hold its
      // connection for up to 30 s past the limit.
      connectionsCheckingInterval: Math.max(100, Math.min(1000, Math.floor(limits.headersTimeoutMs / 4))),
    },
    (req, res) => {
      handle(req, res).catch((error: unknown) => {
        options.logger?.error({ err: error, path: req.url }, 'ops endpoint failed');
        if (!res.headersSent) send(res, 500, 'text/plain; charset=utf-8', 'internal error\n');
        else res.destroy();
      });
    },
  );
  // Probes and scrapes are short; never let an idle keep-alive connection hold shutdown up.
  server.keepAliveTimeout = limits.keepAliveTimeoutMs;
  // Connections past the cap are closed on accept (Node's 'drop' event): their descriptor lives for an instant.
  server.maxConnections = limits.maxConnections;
  let dropped = 0;
  let dropWarnedAt = Number.NEGATIVE_INFINITY;
  server.on('drop', () => {
    dropped += 1;
    // One line a minute at most: a flood of connections must not become a flood of log lines.
    if (now() - dropWarnedAt < 60_000) return;
    dropWarnedAt = now();
    options.logger?.warn(
      { maxConnections: limits.maxConnections, droppedSinceStart: dropped },
      'ops server at its connection cap: closing new connections (STREAMSINK_OPS_MAX_CONNECTIONS)',
    );
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('ops server has no TCP address');
  options.logger?.info(
    { port: address.port, host: options.host ?? '*', maxConnections: limits.maxConnections },
    'ops server listening',
  );

  let closing: Promise<void> | undefined;
  return {
    port: address.port,
    failReadiness() {
      readinessFailed = true;
    },
    connections() {
      return new Promise((resolve, reject) =>
        server.getConnections((error, count) => (error ? reject(error) : resolve(count))),
      );
    },
    close() {
      readinessFailed = true;
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closing;
    },
  };
}

/** The limits the caller set, without the keys it left undefined (which would override the defaults). */
function definedOnly(options: OpsServerOptions): Partial<Record<keyof typeof OPS_SERVER_DEFAULTS, number>> {
  const out: Partial<Record<keyof typeof OPS_SERVER_DEFAULTS, number>> = {};
  for (const key of Object.keys(OPS_SERVER_DEFAULTS) as Array<keyof typeof OPS_SERVER_DEFAULTS>) {
    const value = options[key];
    if (value !== undefined) out[key] = value;
  }
  return out;
}

function withTimeout(p: Promise<CheckOutcome>, ms: number): Promise<CheckOutcome> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<CheckOutcome>((resolve) => {
    timer = setTimeout(() => resolve({ ok: false, error: `no answer within ${ms} ms` }), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

/** Short and secret-free: error codes and messages of clients, never a connection string. */
function describeError(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    const message = redactText(error.message)
      .replace(/\w+:\/\/[^\s]+/g, '<url>')
      .slice(0, 200);
    return typeof code === 'string' && !message.includes(code) ? `${code}: ${message}` : message;
  }
  return String(error).slice(0, 200);
}

function send(
  res: http.ServerResponse,
  status: number,
  contentType: string,
  body: string,
  headers: Record<string, string> = {},
): void {
  res.writeHead(status, {
    'content-type': contentType,
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
    ...headers,
  });
  res.end(res.req.method === 'HEAD' ? undefined : body);
}

function sendJson(res: http.ServerResponse, verdict: Verdict): void {
  send(res, verdict.status, 'application/json', `${JSON.stringify(verdict.body)}\n`);
}
