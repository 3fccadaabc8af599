import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { run } from '../../src/cli/console.ts';
import type { CliContext } from '../../src/cli/context.ts';
import { main } from '../../src/cli/main.ts';
import { SchemaBehindError } from '../../src/lib/errors.ts';
import { migrate } from '../../src/lib/migrations.ts';
import { createPool } from '../../src/lib/pg.ts';
import { TOKENS } from '../helpers/console.ts';
import { uniqueName } from '../helpers/names.ts';
import { createTestSchema, type TestSchema } from '../helpers/pg.ts';
import { waitFor } from '../helpers/wait.ts';

// `streamsink console` as a command: its own clients, listening until aborted; refuses a schema without the
// audit table and bad configuration before serving anything.

const TOKEN_ENV = TOKENS.map((t) => `${t.name}:${t.role}:${t.token}`).join(',');
let schema: TestSchema;

beforeAll(async () => {
  schema = await createTestSchema(inject('databaseUrl'), 'consolecli');
});
afterAll(async () => {
  await schema?.drop();
});

function context(env: Record<string, string>, signal: AbortSignal) {
  const stderr = new PassThrough();
  const stdout = new PassThrough();
  let err = '';
  let out = '';
  stderr.on('data', (d) => {
    err += d;
  });
  stdout.on('data', (d) => {
    out += d;
  });
  const ctx: CliContext = {
    env: { LOG_LEVEL: 'silent', REDIS_URL: inject('redisUrl'), DATABASE_URL: schema.url, ...env },
    stdin: new PassThrough(),
    stdout,
    stderr,
    interactive: false,
    hostname: 'test',
    readFile: () => '',
    signal,
  };
  return { ctx, stderr: () => err, stdout: () => out };
}

describe('streamsink console', () => {
  it('refuses to serve on a schema without the audit table', async () => {
    const { ctx } = context(
      { STREAMSINK_CONSOLE_TOKENS: TOKEN_ENV, STREAMSINK_CONSOLE_PORT: '0' },
      new AbortController().signal,
    );
    await expect(run([], ctx)).rejects.toBeInstanceOf(SchemaBehindError);
  });

  it('serves the streams given with --stream on loopback until aborted', async () => {
    const pool = createPool({ url: schema.url, poolSize: 1 });
    await migrate(pool);
    await pool.end();
    const stream = uniqueName('cli');
    const controller = new AbortController();
    const { ctx, stderr } = context(
      { STREAMSINK_CONSOLE_TOKENS: TOKEN_ENV, STREAMSINK_KEY_PREFIX: uniqueName('p') },
      controller.signal,
    );
    const running = run(['--stream', stream, '--stream', `${stream}-2`, '--port', '0'], ctx);
    const url = await waitFor(() => /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(stderr())?.[1], {
      describe: stderr,
    });
    const res = await fetch(`${url}/`, { headers: { authorization: `Bearer ${TOKENS[0]?.token}` } });
    expect(res.status).toBe(200);
    const body = await res.text();
    expect(body).toContain(stream);
    expect(body).toContain(`${stream}-2`);
    controller.abort();
    expect(await running).toBe(0);
    await expect(fetch(`${url}/login`)).rejects.toThrow();
  });

  it('exits 2 on bad configuration, naming the variables, never the tokens', async () => {
    const { ctx, stderr } = context(
      { STREAMSINK_CONSOLE_TOKENS: 'olivia:operator:short-secret', STREAMSINK_CONSOLE_PORT: 'x' },
      new AbortController().signal,
    );
    expect(await main(['console'], ctx)).toBe(2);
    expect(stderr()).toContain('STREAMSINK_CONSOLE_TOKENS');
    expect(stderr()).toContain('STREAMSINK_CONSOLE_PORT');
    expect(stderr()).not.toContain('short-secret');
  });

  it('documents itself in --help and in the command list', async () => {
    const { ctx, stdout } = context({}, new AbortController().signal);
    expect(await main(['console', '--help'], ctx)).toBe(0);
    expect(stdout()).toContain('Console access is Redis access');
    const list = context({}, new AbortController().signal);
    expect(await main(['--help'], list.ctx)).toBe(0);
    expect(list.stdout()).toMatch(/console\s+serve the operator web console/);
  });
});
