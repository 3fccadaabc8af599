import type { Redis } from 'ioredis';
import pg from 'pg';
import { pick, randomInt } from '../helpers/payments-model.ts';
import type { OwnPostgres, OwnRedis } from '../helpers/servers-own.ts';
import type { TcpProxy } from '../helpers/tcp-proxy.ts';
import type { WorkerPool, WorkerRecord } from './worker-pool.ts';

/**
 * The faults a chaos run injects, one at a time, each restoring what it broke before it returns (so "the
 * last fault" has a clear end). What each one stands for in production:
 *
 *   worker.sigkill          a pod OOM-killed or its node lost; Kubernetes starts a new pod (new consumer name)
 *   worker.sigterm          a rolling deploy or scale-down: the worker must drain and exit 0
 *   pg.restart-fast         a Postgres restart or failover: sessions killed, open transactions rolled back
 *   pg.restart-immediate    a Postgres crash: recovery from WAL on start
 *   pg.terminate-backends   an operator or a pooler killing the workers' sessions
 *   redis.cut               a network partition between workers and Redis, healed after a few seconds
 *   redis.latency           a slow network to Redis
 *   redis.restart           a Redis crash (SIGKILL) and restart with AOF appendfsync always
 */
export const FAULT_KINDS = [
  'worker.sigkill',
  'worker.sigterm',
  'pg.restart-fast',
  'pg.restart-immediate',
  'pg.terminate-backends',
  'redis.cut',
  'redis.latency',
  'redis.restart',
] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

const WEIGHTS: Record<FaultKind, number> = {
  'worker.sigkill': 3,
  'worker.sigterm': 2,
  'pg.restart-fast': 1,
  'pg.restart-immediate': 1,
  'pg.terminate-backends': 2,
  'redis.cut': 2,
  'redis.latency': 1,
  'redis.restart': 1,
};

export interface FaultContext {
  pool: WorkerPool;
  redis: OwnRedis;
  postgres: OwnPostgres;
  proxy: TcpProxy;
  rng: () => number;
  /** Held by the publisher while it writes: a Redis restart waits for it so no publish is in doubt. */
  withPublisherPaused<T>(fn: () => Promise<T>): Promise<T>;
  /** Redis connection for inspecting the group (direct, not through the proxy). */
  inspect: Redis;
  stream: string;
  group: string;
  /** Count entries left pending by a worker that is gone (they will be redelivered). */
  orphaned(count: number): void;
  log(line: string): void;
}

/**
 * A crash is most telling while the worker holds entries (read, maybe written, not yet acknowledged): pick a
 * worker that has some pending, waiting up to 3 s for one, else any live worker.
 */
async function busyWorker(ctx: FaultContext): Promise<WorkerRecord> {
  const deadline = Date.now() + 3000;
  while (Date.now() < deadline) {
    const pending = await pendingByConsumer(ctx);
    const busy = ctx.pool.live().filter((w) => (pending.get(w.consumer) ?? 0) > 0);
    if (busy.length > 0) return pick(ctx.rng, busy);
    await sleep(20);
  }
  return pick(ctx.rng, ctx.pool.live());
}

async function pendingByConsumer(ctx: FaultContext): Promise<Map<string, number>> {
  let consumers: unknown[][];
  try {
    consumers = (await ctx.inspect.call('XINFO', 'CONSUMERS', ctx.stream, ctx.group)) as unknown[][];
  } catch {
    return new Map(); // the stream or group is gone (a Redis without persistence restarted)
  }
  return new Map(
    consumers.map((c) => [String(c[c.indexOf('name') + 1]), Number(c[c.indexOf('pending') + 1])]),
  );
}

async function pendingOf(ctx: FaultContext, consumer: string): Promise<number> {
  return (await pendingByConsumer(ctx)).get(consumer) ?? 0;
}

/**
 * The fault schedule: every kind once first, in a seeded random order (so even a short run covers them all),
 * then weighted random picks.
 */
export function createFaultChooser(rng: () => number, skip: readonly string[]): () => FaultKind | undefined {
  const kinds = FAULT_KINDS.filter((k) => !skip.includes(k));
  const firstRound = [...kinds];
  for (let i = firstRound.length - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    [firstRound[i], firstRound[j]] = [firstRound[j] as FaultKind, firstRound[i] as FaultKind];
  }
  const total = kinds.reduce((s, k) => s + WEIGHTS[k], 0);
  return () => {
    const next = firstRound.shift();
    if (next !== undefined) return next;
    let x = rng() * total;
    for (const k of kinds) {
      x -= WEIGHTS[k];
      if (x < 0) return k;
    }
    return kinds[kinds.length - 1];
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Inject one fault and undo it. Returns a short description for the log. */
export async function injectFault(kind: FaultKind, ctx: FaultContext): Promise<string> {
  const { pool, rng } = ctx;
  switch (kind) {
    case 'worker.sigkill': {
      const victim = await busyWorker(ctx);
      pool.kill(victim);
      const replacement = pool.spawnWorker();
      // What the dead consumer held is what other workers must reclaim: each is one forced redelivery.
      const held = await pendingOf(ctx, victim.consumer);
      ctx.orphaned(held);
      return `SIGKILL ${victim.consumer} holding ${held} entries, started ${replacement.consumer}`;
    }
    case 'worker.sigterm': {
      const victim = pick(rng, pool.live());
      // Kubernetes starts the new pod while the old one drains.
      const replacement = pool.spawnWorker();
      await pool.terminate(victim);
      const left = await pendingOf(ctx, victim.consumer);
      ctx.orphaned(left);
      return `SIGTERM ${victim.consumer} (exit ${victim.exit?.code ?? victim.exit?.signal} after ${victim.termToExitMs} ms, left ${left} pending), started ${replacement.consumer}`;
    }
    case 'pg.restart-fast':
    case 'pg.restart-immediate': {
      const mode = kind === 'pg.restart-fast' ? 'fast' : 'immediate';
      const downMs = randomInt(rng, 0, 4000);
      await ctx.postgres.stopServer(mode);
      await sleep(downMs);
      await ctx.postgres.startServer();
      return `postgres stopped (${mode}) for ${downMs} ms`;
    }
    case 'pg.terminate-backends': {
      const client = new pg.Client({ connectionString: ctx.postgres.url, application_name: 'chaos' });
      await client.connect();
      try {
        const { rowCount } = await client.query(
          "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name LIKE 'streamsink%' AND pid <> pg_backend_pid()",
        );
        return `terminated ${rowCount} worker backends`;
      } finally {
        await client.end();
      }
    }
    case 'redis.cut': {
      const ms = randomInt(rng, 300, 5000);
      ctx.proxy.cut();
      await sleep(ms);
      ctx.proxy.restore();
      return `redis connections cut for ${ms} ms`;
    }
    case 'redis.latency': {
      const latency = randomInt(rng, 20, 400);
      const ms = randomInt(rng, 1000, 6000);
      ctx.proxy.setLatency(latency);
      await sleep(ms);
      ctx.proxy.setLatency(0);
      return `redis latency ${latency} ms each way for ${ms} ms`;
    }
    case 'redis.restart': {
      return ctx.withPublisherPaused(async () => {
        const before = ctx.redis.pid();
        await ctx.redis.restart('SIGKILL');
        return `redis SIGKILLed (pid ${before}) and restarted (pid ${ctx.redis.pid()})`;
      });
    }
  }
}
