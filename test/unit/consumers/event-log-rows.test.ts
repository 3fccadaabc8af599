import { describe, expect, it } from 'vitest';
import type { PipelineEvent } from '../../../src/consumers/define-pipeline.ts';
import { eventRowsText } from '../../../src/consumers/pipelines/event-log/index.ts';
import type { Envelope } from '../../../src/lib/envelope.ts';
import { PoisonMessageError } from '../../../src/lib/errors.ts';

function item(envelope: Envelope, dataText?: string): PipelineEvent {
  const event: PipelineEvent = { ...envelope, entryId: '7-1', stream: 's' };
  if (dataText !== undefined) event.dataText = dataText;
  return event;
}

const base: Envelope = {
  id: 'e1',
  type: 't.x',
  v: 2,
  key: 'a "quoted"\\ key',
  ts: '2026-11-21T10:00:00Z',
  data: { n: 1 },
};

describe('eventRowsText', () => {
  it('joins fields with U+0001 and rows with U+0002, payload text as read', () => {
    const text = eventRowsText([item(base, '{ "n" : 1.0 }\n'), item({ ...base, id: 'e2' })]);
    expect(text.split('\u0002').map((row) => row.split('\u0001'))).toEqual([
      ['e1', '7-1', 't.x', '2', 'a "quoted"\\ key', '2026-11-21T10:00:00Z', '{ "n" : 1.0 }\n'],
      ['e2', '7-1', 't.x', '2', 'a "quoted"\\ key', '2026-11-21T10:00:00Z', '{"n":1}'],
    ]);
  });

  it('sends rows in event id order as Postgres COLLATE "C" sorts (the lock order that avoids deadlocks)', () => {
    const ids = ['b-2', 'B-1', 'a:9', 'a-10', 'a'];
    const text = eventRowsText(ids.map((id) => item({ ...base, id })));
    expect(text.split('\u0002').map((row) => row.split('\u0001')[0])).toEqual([
      'B-1',
      'a',
      'a-10',
      'a:9',
      'b-2',
    ]);
  });

  it('refuses, as poison, a field that holds a separator instead of shifting columns', () => {
    expect(() => eventRowsText([item({ ...base, key: 'a\u0001b' })])).toThrow(PoisonMessageError);
    expect(() => eventRowsText([item(base, '{"n":"\u0002"}')])).toThrow(PoisonMessageError);
  });
});
