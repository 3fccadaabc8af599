import { PassThrough, Readable, Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { publishLines } from '../../src/cli/publish.ts';
import { IdempotencyConflictError, TransientError, ValidationError } from '../../src/lib/errors.ts';
import { contentId } from '../../src/producers/content-id.ts';
import type { PublishInput } from '../../src/producers/prepare-event.ts';
import type { Producer, PublishResult } from '../../src/producers/producer.ts';

/**
 * The line bookkeeping of `streamsink publish`, in-process. The producer here is a stand-in that decides by
 * the event alone (no Redis): ids seen before are duplicates (conflicts when their data differs), ids
 * starting with `bad` are rejected, ids starting with `fail` make the whole batch fail as a lost connection
 * would.
 */
function fakeProducer(calls: Array<Array<PublishInput<object>>>): Producer {
  const seen = new Map<string, string>();
  return {
    publish: () => Promise.reject(new Error('not used')),
    async publishBatch(_stream, events) {
      calls.push([...events]);
      await new Promise((r) => setImmediate(r));
      if (events.some((e) => String(e.id).startsWith('fail'))) throw new TransientError('connection lost');
      const results: PublishResult[] = [];
      for (const e of events) {
        const id = String(e.id);
        if (id.startsWith('bad')) {
          const error = new ValidationError('malformed_envelope', [{ path: 'data.x', message: 'bad' }]);
          results.push({ status: 'rejected', id, error });
        } else if (seen.has(id) && seen.get(id) !== JSON.stringify(e.data)) {
          const error = new IdempotencyConflictError(id, '1-0', 'f'.repeat(64));
          results.push({ status: 'conflict', id, entryId: '1-0', error });
        } else if (seen.has(id)) results.push({ status: 'duplicate', id, entryId: '1-0' });
        else {
          seen.set(id, JSON.stringify(e.data));
          results.push({ status: 'added', id, entryId: `${seen.size}-0` });
        }
      }
      return results;
    },
  };
}

const line = (id: string) => JSON.stringify({ id, type: 't', data: {} });
function sink() {
  let text = '';
  const stream = new Writable({
    write(chunk, _enc, done) {
      text += chunk;
      done();
    },
  });
  return { stream, text: () => text };
}
const quiet = () => ({ stderr: sink().stream, interactive: false, signal: new AbortController().signal });

describe('publishLines', () => {
  it('numbers lines across batches, skips blank lines, and sorts rejections by line', async () => {
    const calls: Array<Array<PublishInput<object>>> = [];
    const input = Readable.from(
      [line('a'), '', line('b'), '{oops', line('a'), line('bad-1'), line('c'), '   ', line('d')].join('\r\n'),
    );
    const summary = await publishLines(input, fakeProducer(calls), 's', 2, quiet());
    expect(summary).toMatchObject({
      lines: 9,
      published: 4,
      duplicates: 1,
      rejectedCount: 2,
      interrupted: false,
    });
    expect(summary.rejected.map((r) => [r.line, r.reason])).toEqual([
      [4, 'invalid_json'],
      [6, 'malformed_envelope'],
    ]);
    expect(calls.map((c) => c.length)).toEqual([2, 2, 2]);
    expect(summary.failure).toBeUndefined();
  });

  it('stops after a failed batch and names the first line that may not have been written', async () => {
    const lines = [line('a'), line('b'), line('fail-1'), line('c'), line('d'), line('e'), line('f')];
    const summary = await publishLines(Readable.from(lines.join('\n')), fakeProducer([]), 's', 2, quiet());
    expect(summary.failure).toEqual({ message: 'TransientError: connection lost', unconfirmedFromLine: 3 });
    expect(summary.published).toBeLessThan(7);
  });

  it('on abort stops reading at once, still sends what it has read, and reports interrupted', async () => {
    const input = new PassThrough();
    const controller = new AbortController();
    const calls: Array<Array<PublishInput<object>>> = [];
    const done = publishLines(input, fakeProducer(calls), 's', 100, {
      stderr: sink().stream,
      interactive: false,
      signal: controller.signal,
    });
    input.write(`${line('a')}\n${line('b')}\n`);
    await new Promise((r) => setImmediate(r));
    controller.abort();
    // stdin stays open: only the abort can end the read.
    const summary = await done;
    expect(summary).toMatchObject({ lines: 2, published: 2, interrupted: true });
    expect(calls).toHaveLength(1);
  });

  it('shows progress on stderr only when interactive', async () => {
    const err = sink();
    const lines = Array.from({ length: 5 }, (_, i) => line(`p${i}`)).join('\n');
    await publishLines(Readable.from(lines), fakeProducer([]), 's', 1, {
      stderr: err.stream,
      interactive: true,
      signal: new AbortController().signal,
    });
    expect(err.text()).toMatch(
      /^\r\d+ lines, [\d,]+ lines\/s: published \d+, duplicates 0, conflicts 0, rejected 0/,
    );
    expect(err.text().endsWith('published 5, duplicates 0, conflicts 0, rejected 0\n')).toBe(true);
    const quietErr = sink();
    await publishLines(Readable.from(lines), fakeProducer([]), 's', 1, {
      ...quiet(),
      stderr: quietErr.stream,
    });
    expect(quietErr.text()).toBe('');
  });

  it('counts an id published before with other content as a conflict, listed by line', async () => {
    const lines = [
      JSON.stringify({ id: 'x', type: 't', data: { n: 1 } }),
      JSON.stringify({ id: 'x', type: 't', data: { n: 1 } }),
      JSON.stringify({ id: 'x', type: 't', data: { n: 2 } }),
    ];
    const summary = await publishLines(Readable.from(lines.join('\n')), fakeProducer([]), 's', 2, quiet());
    expect(summary).toMatchObject({ published: 1, duplicates: 1, conflicts: 1, rejectedCount: 0 });
    expect(summary.conflicted).toEqual([{ line: 3, id: 'x', entryId: '1-0' }]);
  });

  it('gives an id-less line its content id (identical lines are one event); --fresh-ids leaves it without', async () => {
    const plain = { type: 't', data: { n: 1 } };
    const lines = [
      JSON.stringify(plain),
      JSON.stringify({ ...plain, ts: '2026-01-01T00:00:00Z' }),
      JSON.stringify({ type: 't', data: { n: 2 } }),
      JSON.stringify({ id: 'own', type: 't', data: { n: 1 } }),
      '[1, 2]',
    ].join('\n');
    const calls: Array<Array<PublishInput<object>>> = [];
    const summary = await publishLines(Readable.from(lines), fakeProducer(calls), 's', 10, quiet());
    const ids = calls.flat().map((e) => (Array.isArray(e) ? 'array' : e.id));
    expect(ids).toEqual([
      contentId(plain),
      contentId(plain),
      contentId({ type: 't', data: { n: 2 } }),
      'own',
      'array',
    ]);
    expect(summary).toMatchObject({ published: 4, duplicates: 1 });

    const fresh: Array<Array<PublishInput<object>>> = [];
    await publishLines(Readable.from(lines), fakeProducer(fresh), 's', 10, quiet(), undefined, true);
    expect(fresh.flat().map((e) => (Array.isArray(e) ? 'array' : e.id))).toEqual([
      undefined,
      undefined,
      undefined,
      'own',
      'array',
    ]);
  });
});
