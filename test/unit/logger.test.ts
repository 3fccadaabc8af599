import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import type { LogConfig } from '../../src/lib/config.ts';
import { createLogger, messageFields, PAYLOAD_OMITTED } from '../../src/lib/logger.ts';

/** A destination that keeps every JSON line pino writes, parsed. */
function capture() {
  const lines: Array<Record<string, unknown>> = [];
  let buf = '';
  const stream = new Writable({
    write(chunk, _enc, cb) {
      buf += String(chunk);
      let nl = buf.indexOf('\n');
      while (nl >= 0) {
        lines.push(JSON.parse(buf.slice(0, nl)));
        buf = buf.slice(nl + 1);
        nl = buf.indexOf('\n');
      }
      cb();
    },
  });
  return { stream, lines };
}

const config = (over: Partial<LogConfig> = {}): LogConfig => ({
  level: 'info',
  redactPaths: ['data.card.pan'],
  ...over,
});

const envelope = {
  id: '0190f5b2-7c1e-7a3b-8e1f-1234567890ab',
  type: 'payment.captured',
  data: { paymentId: 'p-1', card: { pan: '4111111111111111' }, amountMinor: 100 },
};

describe('createLogger', () => {
  it('masks the password of a connection string and keeps its host', () => {
    const { stream, lines } = capture();
    const log = createLogger(config(), { destination: stream });
    log.info({ redisUrl: 'redis://app:s3cret-pw@redis.internal:6379/0' }, 'connecting');
    log.info({ config: { postgres: { url: 'postgres://app:hunter2@db:5432/x' } } }, 'config');
    const text = JSON.stringify(lines);
    expect(text).not.toContain('s3cret-pw');
    expect(text).not.toContain('hunter2');
    expect(lines[0]?.redisUrl).toBe('redis://***:***@redis.internal:6379/0');
  });

  it('masks credentials quoted inside an error message', () => {
    const { stream, lines } = capture();
    const log = createLogger(config(), { destination: stream });
    log.error({ err: new Error('connect failed to postgres://app:hunter2@db:5432/x') }, 'pool error');
    expect(JSON.stringify(lines)).not.toContain('hunter2');
    expect(lines[0]?.err).toMatchObject({ message: expect.stringContaining('postgres://***:***@db') });
  });

  it('redacts a configured payload path at debug, where payloads are allowed', () => {
    const { stream, lines } = capture();
    const log = createLogger(config({ level: 'debug' }), { destination: stream });
    log.debug({ ...messageFields('1700000000000-0', envelope), payload: envelope }, 'message received');
    const line = lines[0] as { payload: typeof envelope; eventId: string; entryId: string };
    expect(line.payload.data.card.pan).toBe('[redacted]');
    expect(line.payload.data.paymentId).toBe('p-1');
    expect(line.eventId).toBe(envelope.id);
    expect(line.entryId).toBe('1700000000000-0');
    expect(JSON.stringify(lines)).not.toContain('4111111111111111');
  });

  it('omits payloads above debug and keeps the ids of the message', () => {
    const { stream, lines } = capture();
    const log = createLogger(config(), { destination: stream }).child({
      stream: 'payments',
      group: 'g',
      consumer: 'pod-1',
    });
    log.warn(
      { ...messageFields('1700000000000-1', envelope), payload: envelope, data: envelope.data },
      'poison',
    );
    const line = lines[0] as Record<string, unknown>;
    expect(line).toMatchObject({
      level: 'warn',
      stream: 'payments',
      group: 'g',
      consumer: 'pod-1',
      eventId: envelope.id,
      eventType: 'payment.captured',
      entryId: '1700000000000-1',
      payload: PAYLOAD_OMITTED,
      data: PAYLOAD_OMITTED,
    });
    expect(JSON.stringify(lines)).not.toContain('p-1');
  });

  it('falls back to JSON lines when asked for pretty output with a destination', () => {
    const { stream, lines } = capture();
    createLogger(config(), { destination: stream, pretty: true }).info('hello');
    expect(lines[0]).toMatchObject({ msg: 'hello', level: 'info', service: 'streamsink' });
  });
});
