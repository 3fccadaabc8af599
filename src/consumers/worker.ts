import PQueue from 'p-queue';
import type { WorkerConfig } from '../lib/config.ts';
import { DependencyUnavailableError, describeError } from '../lib/errors.ts';
import type { Logger } from '../lib/logger.ts';
import { initWorkerSeries, type WorkerMetrics } from '../lib/metrics.ts';
import { isPostgresUnreachable } from '../lib/pg-errors.ts';
import type { RedisClient as Redis } from '../lib/redis/client.ts';
import type { StreamKeys } from '../lib/redis/keys.ts';
import { backoffDelay } from './backoff.ts';
import { createBatchProcessor, type SinkHealth } from './batch-processor.ts';
import { splitIntoBatches } from './batching.ts';
import type { ConcurrencyLimit } from './concurrency-limiter.ts';
import type { CommitWatermark } from './data-loss.ts';
import { createInFlight } from './in-flight.ts';
import { runLeaseRenewer } from './lease-renewer.ts';
import { createQuarantine, isSuspect, suspectThreshold } from './quarantine.ts';
import { runReadLoop } from './read-loop.ts';
import { createReclaimer, runConsumerSweeper } from './reclaimer.ts';
import { createStreamClient } from './stream-client.ts';
import type { BatchSink, DeadLetterer, Pipeline, StreamEntry } from './types.ts';
import { createWakeup, sleep } from './wakeup.ts';

/**
 * The worker: one consumer of one group, composed of a read loop (blocking connection), a p-queue of batch
 * work (at most `concurrency` batches at once), a reclaimer and a lease renewer (shared connection). At most
 * `maxInFlight` entries are held at any time.
 */
/** After a plain read met a large entry, reads go through the measuring script this long (read-path.ts). */
const PLAIN_READ_COOLDOWN_MS = 60_000;

export interface CreateWorkerOptions {
  /** Connection for acknowledgements, claims and scripts. */
  redis: Redis;
  /** Connection used only by the read loop, so a long read script never delays acks and lease renewals. */
  blockingRedis: Redis;
  /**
   * Wait on the stream's doorbell (BLPOP on `blockingRedis`) while idle; default true. Off when several workers
   * share one `blockingRedis` (a partitioned stream's per-partition workers): one's BLPOP would hold up the
   * others' reads on that connection. They poll every STREAMSINK_POLL_MS instead.
   */
  doorbell?: boolean;
  /** With `doorbell: false`: what an idle read loop waits on instead of a timer (partitions/doorbells.ts). */
  idleWait?: (timeoutMs: number, signal?: AbortSignal) => Promise<void>;
  sink: BatchSink;
  pipeline: Pipeline;
  /** Where poison goes. Without one, poison stays pending (and is logged). */
  deadLetterer?: DeadLetterer;
  keys: StreamKeys;
  config: WorkerConfig;
  logger: Logger;
  metrics?: WorkerMetrics;
  now?: () => number;
  random?: () => number;
  /** Told the entry ids of every commit, for the data-loss watermark (src/consumers/stream-watermarks.ts). */
  commitWatermark?: CommitWatermark;
  /** The live limit on batch transactions in flight (concurrency-limiter.ts); default: `config.concurrency`. */
  concurrencyLimit?: ConcurrencyLimit;
}

export interface WorkerHealth {
  /** When the read loop last went round (paused turns count): a stuck loop fails liveness. */
  loopTurnedAt: number;
  /** The sink threw a transient error and has not succeeded since: reading is paused. */
  sinkFailing: boolean;
  /** The sink is failing because Postgres cannot be reached at all (not: it answers with errors). */
  sinkUnreachable: boolean;
  /** The sink is failing because a service the pipeline's enrich calls is down (its name), not Postgres. */
  waitingOnService: string | undefined;
  shuttingDown: boolean;
  inFlight: number;
  /** When the entry held longest was taken; undefined when nothing is held. Work stuck fails liveness. */
  oldestTakenAt: number | undefined;
}

export interface Worker {
  /** Ensure the group, then run until `close()`. Resolves once running. */
  start(): Promise<void>;
  /**
   * Stop reading, finish and acknowledge what is in flight within `shutdownTimeoutMs`, then stop. What could
   * not finish stays pending for another worker. Safe to call more than once.
   */
  close(): Promise<void>;
  health(): WorkerHealth;
}

export function createWorker(options: CreateWorkerOptions): Worker {
  const { config, logger, metrics, keys } = options;
  const now = options.now ?? Date.now;
  const random = options.random ?? Math.random;
  const labels = { stream: keys.name, group: config.group };
  const batchLabels = { ...labels, pipeline: options.pipeline.name };
  const log = logger.child({ stream: keys.name, group: config.group, consumer: config.consumer });

  const clientOptions = {
    stream: keys.stream,
    ...(options.doorbell === false
      ? options.idleWait
        ? { idleWait: options.idleWait }
        : {}
      : { doorbell: keys.doorbell }),
    group: config.group,
    consumer: config.consumer,
    limits: {
      maxPayloadBytes: config.maxPayloadBytes,
      maxDeliveries: config.maxDeliveries,
      suspectThreshold: suspectThreshold(config.maxDeliveries),
      pipelineName: options.pipeline.name,
      pipelineVersion: options.pipeline.version,
      deadLetterKey: keys.deadLetter,
      now,
    },
  };
  const client = createStreamClient({ redis: options.redis, ...clientOptions });
  // Plain reads need the reader connection to itself: not when per-partition workers share it (no doorbell).
  const blockingClient = createStreamClient({
    redis: options.blockingRedis,
    ...clientOptions,
    ...(options.doorbell === false ? {} : { plainReads: { cooldownMs: PLAIN_READ_COOLDOWN_MS } }),
  });

  const wakeup = createWakeup();
  const inFlight = createInFlight(() => {
    metrics?.inFlight.set(labels, inFlight.size);
    wakeup.wake();
  });
  let sinkFailing = false;
  let sinkUnreachable = false;
  let waitingOnService: string | undefined;
  const sinkHealth: SinkHealth = {
    get failing() {
      return sinkFailing;
    },
    set(failing, cause) {
      // The latest failure decides: a database that came back but now times out on locks is no outage.
      sinkUnreachable = failing && isPostgresUnreachable(cause);
      waitingOnService =
        failing && cause instanceof DependencyUnavailableError ? cause.dependency : undefined;
      if (failing === sinkFailing) return;
      sinkFailing = failing;
      wakeup.wake();
    },
  };
  /** Aborted by close(): stop reading and reclaiming. */
  const stopReading = new AbortController();
  /** Aborted when the shutdown deadline passes: batches stop retrying and leave their entries pending. */
  const giveUp = new AbortController();
  /** Aborted last: lease renewal runs until in-flight work is done. */
  const stopLeases = new AbortController();

  const queue = new PQueue({ concurrency: options.concurrencyLimit?.limit ?? config.concurrency });
  // Batches run up to the limit, and the read loop holds only what that many batches take.
  options.concurrencyLimit?.onChange((limit) => {
    queue.concurrency = limit;
    wakeup.wake();
  });
  const readLimit = () =>
    Math.min(config.maxInFlight, (options.concurrencyLimit?.limit ?? config.concurrency) * config.batchSize);
  const processor = createBatchProcessor({
    client,
    sink: options.sink,
    pipeline: options.pipeline,
    deadLetterer: options.deadLetterer,
    config,
    logger: log,
    metrics,
    labels: batchLabels,
    sinkHealth,
    giveUp: giveUp.signal,
    now,
    random,
    commitWatermark: options.commitWatermark,
  });

  let loopTurnedAt = now();
  let shuttingDown = false;
  let running = false;
  let readers: Promise<unknown> = Promise.resolve();
  let closing: Promise<void> | undefined;

  async function runBatch(batch: StreamEntry[]): Promise<void> {
    try {
      await processor.process(batch);
    } catch (error) {
      // process() handles every expected failure itself; this is a bug. The entries stay pending.
      log.error({ err: describeError(error), size: batch.length }, 'batch crashed; entries left pending');
    } finally {
      inFlight.remove(batch.map((e) => e.id));
    }
  }

  // Claimed entries that may be what keeps killing the process run alone, with nothing else in flight.
  const quarantine = createQuarantine({
    client,
    processAlone: (entry) => runBatch([entry]),
    othersIdle: () => queue.onIdle(),
    onIdle: () => wakeup.wake(),
    giveUp: giveUp.signal,
    backoff: (attempt) =>
      backoffDelay(attempt, { baseMs: config.backoffBaseMs, maxMs: config.backoffMaxMs, random }),
    logger: log,
  });

  /** Entries the read script moved to the dead-letter stream inside Redis: they never reached this process. */
  function onDeadLettered(records: ReadonlyArray<{ id: string; reason: string }>): void {
    metrics?.messages.inc({ ...batchLabels, outcome: 'dead_lettered' }, records.length);
    for (const r of records)
      log.warn({ entryId: r.id, reason: r.reason }, 'entry dead-lettered inside Redis without being loaded');
  }

  function dispatch(entries: StreamEntry[]): void {
    inFlight.add(
      entries.map((e) => e.id),
      now(),
      entries.map((e) => e.size ?? 0),
    );
    const suspect = (e: StreamEntry) => isSuspect(e.deliveryCount, config.maxDeliveries);
    const suspects = entries.filter(suspect);
    const others = suspects.length === 0 ? entries : entries.filter((e) => !suspect(e));
    for (const batch of splitIntoBatches(others, config.batchSize)) void queue.add(() => runBatch(batch));
    quarantine.add(suspects);
  }

  async function ensureGroup(): Promise<void> {
    if (await client.createGroup(config.startId))
      log.info({ startId: config.startId }, 'created consumer group');
  }

  return {
    async start() {
      if (running) return;
      running = true;
      metrics?.inFlightLimit.set(labels, config.maxInFlight);
      metrics?.inFlight.set(labels, 0);
      if (metrics) initWorkerSeries(metrics, batchLabels);
      await ensureGroup();
      log.info(
        {
          maxInFlight: config.maxInFlight,
          maxInFlightBytes: config.maxInFlightBytes,
          batchSize: config.batchSize,
          concurrency: config.concurrency,
        },
        'worker started',
      );
      const reclaimerDeps = {
        client,
        inFlight,
        sinkHealth,
        config,
        dispatch,
        onDeadLettered,
        logger: log,
        metrics,
        labels,
        stop: stopReading.signal,
        now,
        holdBack: () => quarantine.active,
      };
      readers = Promise.all([
        runReadLoop({
          client: blockingClient,
          inFlight,
          sinkHealth,
          wakeup,
          config,
          recreateGroup: ensureGroup,
          reclaimer: createReclaimer(reclaimerDeps),
          dispatch,
          onDeadLettered,
          holdReading: () => quarantine.active,
          maxInFlight: readLimit,
          logger: log,
          metrics,
          labels,
          onTurn: () => {
            loopTurnedAt = now();
          },
          stop: stopReading.signal,
          random,
        }),
        runConsumerSweeper(reclaimerDeps),
      ]);
      void runLeaseRenewer({
        client,
        inFlight,
        claimIdleMs: config.claimIdleMs,
        logger: log,
        metrics,
        now,
        stop: stopLeases.signal,
      });
    },

    close() {
      closing ??= (async () => {
        shuttingDown = true;
        const deadline = now() + config.shutdownTimeoutMs;
        const remaining = () => Math.max(0, deadline - now());
        // Cancels the deadline timers once they lost their race, so they do not keep the process alive.
        const timers = new AbortController();
        log.info({ inFlight: inFlight.size }, 'worker stopping: draining in-flight batches');
        stopReading.abort();
        wakeup.wake();
        // Whatever the read loop still receives is pending on us: it is dispatched and drained like the rest.
        // Reads do not block (read-entries.lua): the reader returns once its script call answers. Only a Redis
        // that does not answer keeps it longer; then whatever it may still receive stays pending for another.
        await Promise.race([readers, sleep(Math.min(remaining(), config.blockMs + 1000), timers.signal)]);
        const idle = queue.size === 0 && queue.pending === 0 && !quarantine.active;
        const drained =
          idle ||
          (await Promise.race([
            Promise.all([queue.onIdle(), quarantine.idle()]).then(() => true),
            sleep(remaining(), timers.signal).then(() => false),
          ]));
        timers.abort();
        if (!drained) {
          giveUp.abort();
          log.warn({ inFlight: inFlight.size }, 'shutdown timeout: unfinished entries stay pending');
        }
        stopLeases.abort();
        log.info({ inFlight: inFlight.size, drained }, 'worker stopped');
      })();
      return closing;
    },

    health() {
      return {
        loopTurnedAt,
        sinkFailing,
        sinkUnreachable,
        waitingOnService,
        shuttingDown,
        inFlight: inFlight.size,
        oldestTakenAt: inFlight.oldestTakenAt(),
      };
    },
  };
}
