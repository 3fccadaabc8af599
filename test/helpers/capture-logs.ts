import { Writable } from 'node:stream';
import pino from 'pino';

/** A pino logger at `level` whose lines (parsed JSON) the test reads back from `lines`. */
export function captureLogs(level: pino.Level) {
  const lines: Array<Record<string, unknown>> = [];
  const destination = new Writable({
    write(chunk, _enc, done) {
      for (const line of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(line));
      done();
    },
  });
  return { logger: pino({ level }, destination), lines };
}
