import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { createInFlight } from '../../../src/consumers/in-flight.ts';
import { renewOnce } from '../../../src/consumers/lease-renewer.ts';
import { createReclaimer, reclaimOnce, removeStaleConsumers } from '../../../src/consumers/reclaimer.ts';
import type { AutoClaimPage, ConsumerInfo, StreamClient } from '../../../src/consumers/stream-client.ts';
import type { StreamEntry } from '../../../src/consumers/types.ts';

const logger = pino({ level: 'silent' });
const entry = (id: string, deliveryCount = 0): StreamEntry => ({ id, fields: ['k', 'v'], deliveryCount });

function fakeClient(pages: AutoClaimPage[], consumers: ConsumerInfo[] = []) {
  const calls: string[] = [];
  const client: Partial<StreamClient> = {
    async autoClaim(minIdleMs, cursor, count) {
      calls.push(`autoclaim ${minIdleMs} ${cursor} ${count}`);
      return pages.shift() ?? { cursor: '0-0', entries: [], deletedIds: [], deadLettered: [] };
    },
    async ack(ids) {
      calls.push(`ack ${ids.join(',')}`);
      return ids.length;
    },
    async pendingCounts(start, end) {
      calls.push(`xpending ${start} ${end}`);
      return new Map([
        ['1-0', 2],
        ['2-0', 7],
      ]);
    },
    async consumers() {
      return consumers;
    },
    async deleteConsumerIfIdle(name) {
      calls.push(`delete ${name}`);
      return true;
    },
    async renewLease(ids) {
      calls.push(`renew ${ids.join(',')}`);
      return [...ids];
    },
  };
  return { client: client as StreamClient, calls };
}

function deps(client: StreamClient, maxInFlight = 10, held: string[] = []) {
  const inFlight = createInFlight(() => {});
  inFlight.add(held, 0);
  const dispatched: StreamEntry[][] = [];
  return {
    dispatched,
    inFlight,
    d: {
      client,
      inFlight,
      sinkHealth: { failing: false, set() {} },
      config: {
        consumer: 'me',
        maxInFlight,
        maxInFlightBytes: 1 << 30,
        batchSize: 4,
        claimIdleMs: 1000,
        claimIntervalMs: 250,
        consumerIdleDeleteMs: 60_000,
        maxDeliveries: 5, // suspects from delivery count 3
      },
      dispatch: (entries: StreamEntry[]) => {
        dispatched.push(entries);
        inFlight.add(
          entries.map((e) => e.id),
          0,
        );
      },
      logger,
      metrics: undefined,
      labels: { stream: 's', group: 'g' },
      stop: new AbortController().signal,
      now: () => 0,
    },
  };
}

describe('reclaimOnce', () => {
  it('pages through the cursor, fills in delivery counts, acks deleted ids, skips entries it already holds', async () => {
    const { client, calls } = fakeClient([
      {
        cursor: '5-0',
        entries: [entry('1-0'), entry('2-0'), entry('3-0')],
        deletedIds: ['4-0'],
        deadLettered: [],
      },
      { cursor: '0-0', entries: [], deletedIds: [], deadLettered: [] },
    ]);
    const t = deps(client, 10, ['3-0']);
    expect(await reclaimOnce(t.d)).toEqual({ taken: 2, endedOnSuspect: false });
    expect(calls).toEqual(['autoclaim 1000 0-0 4', 'ack 4-0', 'xpending 1-0 2-0', 'autoclaim 1000 5-0 4']);
    expect(t.dispatched[0]?.map((e) => [e.id, e.deliveryCount])).toEqual([
      ['1-0', 2],
      ['2-0', 7],
    ]);
  });

  it('asks only for free capacity and stops when full', async () => {
    const { client, calls } = fakeClient([
      { cursor: '9-0', entries: [entry('1-0'), entry('2-0')], deletedIds: [], deadLettered: [] },
    ]);
    const t = deps(client, 5, ['a-0', 'b-0', 'c-0']);
    // 2 free, then full: no second page, and the round says where to go on from.
    expect(await reclaimOnce(t.d)).toEqual({ taken: 2, endedOnSuspect: false, resumeAt: '9-0' });
    expect(calls).toEqual(['autoclaim 1000 0-0 2', 'xpending 1-0 2-0']);
  });

  it('goes on from a cursor, and a round that reaches its page limit says where it stopped', async () => {
    const pages = Array.from({ length: 12 }, (_, i) => ({
      cursor: `${i + 10}-0`,
      entries: [],
      deletedIds: [],
      deadLettered: [],
    }));
    const { client, calls } = fakeClient(pages);
    expect(await reclaimOnce(deps(client).d, '7-0')).toEqual({
      taken: 0,
      endedOnSuspect: false,
      resumeAt: '19-0',
    });
    expect(calls[0]).toBe('autoclaim 1000 7-0 4');
    expect(calls).toHaveLength(10);
  });

  it('says whether its last page claimed a suspect, the page that stops the round', async () => {
    const page = (entries: StreamEntry[], cursor: string): AutoClaimPage => ({
      cursor,
      entries,
      deletedIds: [],
      deadLettered: [],
    });
    const suspectLast = fakeClient([
      page([entry('1-0', 2), entry('2-0', 2)], '3-0'),
      page([entry('3-0', 3)], '4-0'),
    ]);
    const t = deps(suspectLast.client);
    let quarantined = false;
    const dispatch = t.d.dispatch;
    const d = {
      ...t.d,
      dispatch: (entries: StreamEntry[]) => {
        dispatch(entries);
        quarantined ||= entries.some((e) => e.deliveryCount >= 3);
      },
      holdBack: () => quarantined,
    };
    expect(await reclaimOnce(d)).toEqual({ taken: 3, endedOnSuspect: true });
    expect(suspectLast.calls).toHaveLength(2); // no page after the suspect

    // Past max deliveries is no suspect (the script dead-letters those), and an empty last page resets it.
    const notLast = fakeClient([page([entry('1-0', 3)], '2-0'), page([], '0-0')]);
    expect(await reclaimOnce(deps(notLast.client).d)).toEqual({ taken: 1, endedOnSuspect: false });
    const over = fakeClient([page([entry('1-0', 6)], '0-0')]);
    expect(await reclaimOnce(deps(over.client).d)).toEqual({ taken: 1, endedOnSuspect: false });
  });
});

describe('createReclaimer', () => {
  it('after a round that claimed a suspect, the next is due once the quarantine empties; else after the interval', async () => {
    const suspect = (id: string): AutoClaimPage => ({
      cursor: '0-0',
      entries: [entry(id, 3)],
      deletedIds: [],
      deadLettered: [],
    });
    const { client, calls } = fakeClient([suspect('1-0'), suspect('2-0')]);
    const t = deps(client);
    let now = 0;
    let quarantined = false;
    const reclaimer = createReclaimer({
      ...t.d,
      now: () => now,
      dispatch: (entries) => {
        t.d.dispatch(entries);
        quarantined = true;
      },
      holdBack: () => quarantined,
    });
    expect(reclaimer.due()).toBe(false);
    now = 250; // claimIntervalMs
    expect(reclaimer.due()).toBe(true);
    await reclaimer.run();
    expect(reclaimer.due()).toBe(false); // the suspect runs alone
    quarantined = false;
    expect(reclaimer.due()).toBe(true); // at once, not at 500
    await reclaimer.run();
    quarantined = false;
    expect(reclaimer.due()).toBe(true);
    await reclaimer.run(); // claims nothing
    expect(reclaimer.due()).toBe(false);
    now = 499;
    expect(reclaimer.due()).toBe(false);
    now = 500;
    expect(reclaimer.due()).toBe(true);
    expect(calls.filter((c) => c.startsWith('autoclaim'))).toHaveLength(3);
  });
});

describe('createReclaimer: a round that had to stop', () => {
  it('resumes where it stopped as soon as room frees up, not a claim interval later', async () => {
    const page = (cursor: string, ids: string[]): AutoClaimPage => ({
      cursor,
      entries: ids.map((id) => entry(id, 2)),
      deletedIds: [],
      deadLettered: [],
    });
    const { client, calls } = fakeClient([page('3-0', ['1-0', '2-0']), page('0-0', ['3-0'])]);
    const t = deps(client, 4, ['a-0', 'b-0']); // 2 free of 4
    let now = 0;
    const reclaimer = createReclaimer({ ...t.d, now: () => now });
    now = 250; // claimIntervalMs
    await reclaimer.run(); // takes 2: full, the pending list not done
    expect(calls.filter((c) => c.startsWith('autoclaim'))).toEqual(['autoclaim 1000 0-0 2']);
    expect(reclaimer.due()).toBe(true); // resume: but the worker is still full
    await reclaimer.run(); // nothing free: no Redis call, still to resume
    expect(calls.filter((c) => c.startsWith('autoclaim'))).toHaveLength(1);
    expect(reclaimer.due()).toBe(true);
    t.inFlight.remove(['a-0', 'b-0', '1-0', '2-0']); // room again, long before the next interval (500)
    await reclaimer.run();
    expect(calls.filter((c) => c.startsWith('autoclaim'))).toEqual([
      'autoclaim 1000 0-0 2',
      'autoclaim 1000 3-0 4',
    ]);
    expect(t.dispatched.flat().map((e) => e.id)).toEqual(['1-0', '2-0', '3-0']);
    expect(reclaimer.due()).toBe(false); // came round to the start: the interval applies again
    now = 499;
    expect(reclaimer.due()).toBe(false);
    now = 500;
    expect(reclaimer.due()).toBe(true);
  });
});

describe('removeStaleConsumers', () => {
  it('deletes only other consumers idle past the limit with nothing pending', async () => {
    const { client, calls } = fakeClient(
      [],
      [
        { name: 'me', pending: 0, idleMs: 999_999 },
        { name: 'old-empty', pending: 0, idleMs: 120_000 },
        { name: 'old-busy', pending: 3, idleMs: 120_000 },
        { name: 'recent', pending: 0, idleMs: 1000 },
      ],
    );
    const t = deps(client);
    expect(await removeStaleConsumers(t.d)).toEqual(['old-empty']);
    expect(calls).toEqual(['delete old-empty']);
  });
});

describe('renewOnce', () => {
  it('renews only leases older than the interval, and records the renewal', async () => {
    const { client, calls } = fakeClient([]);
    const inFlight = createInFlight(() => {});
    inFlight.add(['1-0'], 0);
    inFlight.add(['2-0'], 900);
    let now = 1000;
    const renewed = await renewOnce(
      {
        client,
        inFlight,
        claimIdleMs: 900,
        logger,
        metrics: undefined,
        now: () => now,
        stop: new AbortController().signal,
      },
      300,
    );
    expect(renewed).toBe(1);
    expect(calls).toEqual(['renew 1-0']);
    now = 1100;
    expect(inFlight.leasedBefore(now - 300)).toEqual([]);
  });
});
