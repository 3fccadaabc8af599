import type { Redis } from 'ioredis';
import pg from 'pg';
import { decodeDeadLetter } from '../../src/lib/dead-letter-entry.ts';
import type { StreamKeys } from '../../src/lib/redis/keys.ts';
import {
  diffState,
  expectedState,
  readState,
  type StateDiff,
  stateMatches,
} from '../helpers/payments-model.ts';
import type { ChaosPlan } from './plan.ts';
import type { PublishRecord } from './publisher.ts';

/**
 * The invariants of a chaos run, checked against the plan and the publisher's record, never against what
 * streamsink reports about itself:
 *   - every good event is in the inbox (none lost) and the projections equal the model (none applied twice);
 *   - every poison entry is in the dead-letter stream exactly once, with one of its kind's reasons;
 *   - no good event was dead-lettered, no poison was applied;
 *   - nothing is pending and no consumer holds entries.
 */
export interface GroupProgress {
  streamLength: number;
  deadLetterLength: number;
  pending: number;
  /** The group has delivered everything in the stream. */
  caughtUp: boolean;
}

/** A stream or group that does not exist (Redis lost it) reads as empty rather than as an error. */
const orEmpty = <T>(p: Promise<T>, empty: T): Promise<T> =>
  p.catch((error: Error) => {
    if (/no such key|NOGROUP/i.test(error.message)) return empty;
    throw error;
  });

export async function readProgress(redis: Redis, keys: StreamKeys, group: string): Promise<GroupProgress> {
  const [info, groups, pending, dlq] = await Promise.all([
    orEmpty(redis.call('XINFO', 'STREAM', keys.stream) as Promise<unknown[]>, ['length', 0]),
    orEmpty(redis.call('XINFO', 'GROUPS', keys.stream) as Promise<unknown[][]>, []),
    orEmpty(redis.xpending(keys.stream, group) as Promise<[number, ...unknown[]]>, [0]),
    redis.xlen(keys.deadLetter),
  ]);
  const field = (list: unknown[], name: string) => list[list.indexOf(name) + 1];
  const g = groups.find((x) => field(x, 'name') === group);
  return {
    streamLength: Number(field(info, 'length')),
    deadLetterLength: dlq,
    pending: Number(pending[0]),
    caughtUp: g !== undefined && field(g, 'last-delivered-id') === field(info, 'last-generated-id'),
  };
}

export interface ChaosCheck {
  goodEvents: number;
  appliedEvents: number;
  lost: number;
  /** Inbox rows for events that are not good events of the plan (poison applied). */
  appliedUnexpected: number;
  state: StateDiff;
  stateExact: boolean;
  poisonExpected: number;
  deadLettered: number;
  poisonDeadLetteredOnce: number;
  poisonMissing: number;
  poisonDuplicated: number;
  poisonWrongReason: number;
  goodDeadLettered: number;
  deadLetterByReason: Record<string, number>;
  pending: number;
  stuckConsumers: string[];
  consumers: number;
  streamLength: number;
  failures: string[];
}

export async function checkRun(options: {
  redis: Redis;
  databaseUrl: string;
  keys: StreamKeys;
  group: string;
  plan: ChaosPlan;
  record: PublishRecord;
}): Promise<ChaosCheck> {
  const { redis, keys, group, plan, record } = options;
  const failures: string[] = [];
  const goodIds = new Set(plan.good.map((e) => e.id));

  const db = new pg.Client({ connectionString: options.databaseUrl, application_name: 'chaos-checker' });
  await db.connect();
  let inbox: Set<string>;
  let state: StateDiff;
  try {
    // The chaos run drives the payments pipeline; its inbox rows are keyed by pipeline (docs/postgres.md#identity).
    const rows = await db.query('SELECT event_id FROM streamsink_inbox WHERE pipeline = $1', ['payments']);
    inbox = new Set(rows.rows.map((r) => r.event_id as string));
    state = diffState(expectedState(plan.good), await readState(db, plan.prefix));
  } finally {
    await db.end();
  }
  let lost = 0;
  for (const id of goodIds) if (!inbox.has(id)) lost++;
  let appliedUnexpected = 0;
  for (const id of inbox) if (!goodIds.has(id)) appliedUnexpected++;
  if (lost > 0) failures.push(`${lost} good events never applied (lost)`);
  if (appliedUnexpected > 0)
    failures.push(`${appliedUnexpected} inbox rows for events that were not good events`);
  const stateExact = stateMatches(state);
  if (!stateExact)
    failures.push(`projections differ from the model: ${state.examples.slice(0, 5).join('; ')}`);

  const seen = new Map<string, number>();
  const byReason: Record<string, number> = {};
  let goodDeadLettered = 0;
  let wrongReason = 0;
  let deadLettered = 0;
  let cursor = '-';
  for (;;) {
    const page = await redis.xrange(keys.deadLetter, cursor, '+', 'COUNT', 1000);
    for (const [id, fields] of page) {
      if (id === cursor) continue;
      deadLettered++;
      const decoded = decodeDeadLetter(fields);
      if (!decoded.ok) {
        failures.push(`dead-letter entry ${id} does not decode: ${decoded.message}`);
        continue;
      }
      const { meta } = decoded.value;
      byReason[meta.reason] = (byReason[meta.reason] ?? 0) + 1;
      seen.set(meta.sourceId, (seen.get(meta.sourceId) ?? 0) + 1);
      const poison = record.poisonEntries.get(meta.sourceId);
      if (!poison) {
        goodDeadLettered++;
        if (goodDeadLettered <= 5)
          failures.push(
            `entry ${meta.sourceId} (event ${meta.eventId}) is not poison but was dead-lettered: ${meta.reason} ${meta.errorMessage}`,
          );
      } else if (!((poison.wireReasons ?? poison.reasons) as readonly string[]).includes(meta.reason)) {
        wrongReason++;
        if (wrongReason <= 5) failures.push(`poison ${poison.kind} dead-lettered as ${meta.reason}`);
      }
    }
    if (page.length < 1000) break;
    cursor = (page[page.length - 1] as [string, string[]])[0];
  }
  let missing = 0;
  let duplicated = 0;
  let once = 0;
  for (const id of record.poisonEntries.keys()) {
    const n = seen.get(id) ?? 0;
    if (n === 0) missing++;
    else if (n > 1) duplicated++;
    else once++;
  }
  if (missing > 0) failures.push(`${missing} poison entries not in the dead-letter stream`);
  if (duplicated > 0) failures.push(`${duplicated} poison entries dead-lettered more than once`);
  if (goodDeadLettered > 5) failures.push(`... ${goodDeadLettered} good entries dead-lettered in all`);

  const pendingSummary = await orEmpty(
    redis.xpending(keys.stream, group) as Promise<[number, ...unknown[]]>,
    [0],
  );
  const pending = Number(pendingSummary[0]);
  if (pending !== 0) failures.push(`${pending} entries still pending`);
  const consumers = await orEmpty(
    redis.call('XINFO', 'CONSUMERS', keys.stream, group) as Promise<unknown[][]>,
    [],
  );
  const stuck = consumers
    .filter((c) => Number(c[c.indexOf('pending') + 1]) > 0)
    .map((c) => `${c[c.indexOf('name') + 1]} (${c[c.indexOf('pending') + 1]} pending)`);
  if (stuck.length > 0) failures.push(`consumers holding entries: ${stuck.join(', ')}`);

  return {
    goodEvents: goodIds.size,
    appliedEvents: inbox.size,
    lost,
    appliedUnexpected,
    state,
    stateExact,
    poisonExpected: record.poisonEntries.size,
    deadLettered,
    poisonDeadLetteredOnce: once,
    poisonMissing: missing,
    poisonDuplicated: duplicated,
    poisonWrongReason: wrongReason,
    goodDeadLettered,
    deadLetterByReason: byReason,
    pending,
    stuckConsumers: stuck,
    consumers: consumers.length,
    streamLength: await redis.xlen(keys.stream),
    failures,
  };
}
