import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { TOKENS } from '../helpers/console.ts';
import { waitFor } from '../helpers/wait.ts';
import { createWorkerBench, type WorkerBench } from '../helpers/worker-harness.ts';

// STREAMSINK_CONSOLE_PORT serves the console from the worker process, on the worker's own clients; without it
// the worker serves no console (off by default).

let bench: WorkerBench;
beforeAll(async () => {
  bench = await createWorkerBench(inject('redisUrl'), inject('databaseUrl'));
});
afterAll(async () => {
  await bench?.cleanup();
});

describe('console in the worker', () => {
  it('is served when STREAMSINK_CONSOLE_PORT is set, and stops with the worker', async () => {
    const w = bench.spawnWorker('c1', {
      STREAMSINK_CONSOLE_PORT: '0',
      STREAMSINK_CONSOLE_TOKENS: TOKENS.map((t) => `${t.name}:${t.role}:${t.token}`).join(','),
    });
    const url = await waitFor(
      () => /console listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(w.output())?.[1],
      {
        describe: w.output,
      },
    );
    // The console listens before the worker has created its group (src/cli/worker.ts starts it first): the page
    // names the group once it exists.
    await waitFor(async () => {
      const groups = (await bench.redis.xinfo('GROUPS', bench.keys.stream)) as unknown[][];
      return groups.some((g) => g[g.indexOf('name') + 1] === bench.group);
    });
    const res = await fetch(`${url}/`, { headers: { authorization: `Bearer ${TOKENS[1]?.token}` } });
    expect(res.status).toBe(200);
    const body = await res.text();
    expect(body).toContain(bench.streamName);
    expect(body).toContain(bench.group);
    w.child.kill('SIGTERM');
    expect((await w.exited).code).toBe(0);
    expect(w.output()).not.toContain(TOKENS[1]?.token ?? '');
  });

  it('is off by default', async () => {
    const w = bench.spawnWorker('c2', { LOG_LEVEL: 'info' });
    // 'worker started' comes after the point where the console would have been started.
    await waitFor(() => /worker started/.test(w.output()), { describe: w.output });
    w.child.kill('SIGTERM');
    expect((await w.exited).code).toBe(0);
    expect(w.output()).not.toContain('console listening');
  });
});
