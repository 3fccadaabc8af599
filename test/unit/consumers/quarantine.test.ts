import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { createQuarantine, isSuspect, suspectThreshold } from '../../../src/consumers/quarantine.ts';
import type { StreamEntry } from '../../../src/consumers/types.ts';

const logger = pino({ level: 'silent' });
const entry = (id: string, deliveryCount: number): StreamEntry => ({ id, fields: [], deliveryCount });

describe('suspectThreshold', () => {
  it('is 3 for the usual limits, never below 2 and never above the limit (from 2 up)', () => {
    expect(suspectThreshold(1)).toBe(2);
    expect(suspectThreshold(2)).toBe(2);
    expect(suspectThreshold(3)).toBe(3);
    expect(suspectThreshold(5)).toBe(3);
    expect(suspectThreshold(1000)).toBe(3);
  });
});

describe('isSuspect', () => {
  it('never suspects a first or second delivery under the default limit', () => {
    expect(isSuspect(1, 5)).toBe(false);
    expect(isSuspect(2, 5)).toBe(false);
  });
  it('suspects from the threshold up to the limit', () => {
    for (const count of [3, 4, 5]) expect(isSuspect(count, 5), String(count)).toBe(true);
    expect(isSuspect(3, 3)).toBe(true);
    expect(isSuspect(2, 2)).toBe(true);
  });
  it('leaves entries over the limit to be dead-lettered unprocessed', () => {
    expect(isSuspect(6, 5)).toBe(false);
    expect(isSuspect(4, 3)).toBe(false);
  });
  it('suspects nothing with a limit of 1 (the second delivery is already over it)', () => {
    for (const count of [1, 2, 3]) expect(isSuspect(count, 1)).toBe(false);
  });
});

function deferred() {
  let resolve = () => {};
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

function setup(options: { failSets?: number; giveUp?: AbortController } = {}) {
  const events: string[] = [];
  let failSets = options.failSets ?? 0;
  let running = 0;
  let maxRunning = 0;
  let othersBusy = deferred();
  let idleCalls = 0;
  const giveUp = options.giveUp ?? new AbortController();
  const quarantine = createQuarantine({
    client: {
      async setDeliveryCount(ids, count) {
        if (failSets-- > 0) {
          events.push('set-failed');
          throw new Error('connection lost');
        }
        events.push(`set ${ids.join(',')}=${count}`);
        return [...ids];
      },
    },
    async processAlone(e) {
      running += 1;
      maxRunning = Math.max(maxRunning, running);
      events.push(`process ${e.id}`);
      await new Promise((r) => setTimeout(r, 1));
      running -= 1;
    },
    othersIdle: async () => {
      events.push('wait others');
      await othersBusy.promise;
    },
    onIdle: () => {
      idleCalls += 1;
    },
    giveUp: giveUp.signal,
    backoff: () => 1,
    logger,
  });
  return {
    quarantine,
    events,
    maxRunning: () => maxRunning,
    idleCalls: () => idleCalls,
    othersDone: () => othersBusy.resolve(),
    othersBusyAgain: () => {
      othersBusy = deferred();
    },
  };
}

describe('quarantine', () => {
  it('lowers waiting counts, waits for the other batches, then runs each suspect alone at its own count', async () => {
    const q = setup();
    q.quarantine.add([entry('1-0', 3), entry('2-0', 4), entry('3-0', 3)]);
    expect(q.quarantine.active).toBe(true);
    await new Promise((r) => setTimeout(r, 5));
    // Nothing runs while other batches are in flight; the waiting suspects' counts are already lowered.
    expect(q.events).toEqual(['set 1-0,3-0=2', 'set 2-0=3', 'wait others']);
    q.othersDone();
    await q.quarantine.idle();
    expect(q.events).toEqual([
      'set 1-0,3-0=2',
      'set 2-0=3',
      'wait others',
      'set 1-0=3',
      'process 1-0',
      'wait others',
      'set 2-0=4',
      'process 2-0',
      'wait others',
      'set 3-0=3',
      'process 3-0',
    ]);
    expect(q.maxRunning()).toBe(1);
    expect(q.quarantine.active).toBe(false);
    expect(q.idleCalls()).toBe(1);
  });

  it('retries setting a count back before running the suspect', async () => {
    const q = setup({ failSets: 2 });
    q.othersDone();
    q.quarantine.add([entry('1-0', 3)]);
    await q.quarantine.idle();
    // The lowering is best effort (one failure logged); the restore is retried until it works.
    expect(q.events).toEqual(['set-failed', 'wait others', 'set-failed', 'set 1-0=3', 'process 1-0']);
  });

  it('takes on suspects that arrive later and is idle only when all ran', async () => {
    const q = setup();
    q.othersDone();
    q.quarantine.add([entry('1-0', 3)]);
    q.quarantine.add([entry('2-0', 3)]);
    await q.quarantine.idle();
    expect(q.events.filter((e) => e.startsWith('process'))).toEqual(['process 1-0', 'process 2-0']);
    q.othersBusyAgain();
    q.quarantine.add([entry('3-0', 5)]);
    expect(q.quarantine.active).toBe(true);
    q.othersDone();
    await q.quarantine.idle();
    expect(q.events.at(-1)).toBe('process 3-0');
    expect(q.idleCalls()).toBe(2);
  });

  it('stops when the worker gives up, leaving waiting suspects unprocessed (pending, at the lowered count)', async () => {
    const giveUp = new AbortController();
    const q = setup({ giveUp });
    q.quarantine.add([entry('1-0', 3), entry('2-0', 3)]);
    await new Promise((r) => setTimeout(r, 5));
    giveUp.abort();
    q.othersDone();
    await q.quarantine.idle();
    expect(q.events.filter((e) => e.startsWith('process'))).toEqual([]);
    expect(q.quarantine.active).toBe(true); // still holding them: reading must not resume
  });
});
