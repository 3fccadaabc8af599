import { type ChildProcess, spawn } from 'node:child_process';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { REPO_ROOT } from '../helpers/dist.ts';
import { uniqueName } from '../helpers/names.ts';
import { createTestSchema, type TestSchema } from '../helpers/pg.ts';
import { commandLine, descendants, isRunning, killAll } from '../helpers/process-tree.ts';
import { waitFor } from '../helpers/wait.ts';

// `npm start` runs `sh -c "node src/cli/main.ts worker"`. npm passes a SIGTERM on to sh, which dies without
// passing it to node: the worker used to keep running, orphaned. It must stop, and drain as on SIGTERM.
let schema: TestSchema;
const leftovers: number[] = [];
const prefix = uniqueName('npmstart');

beforeAll(async () => {
  schema = await createTestSchema(inject('databaseUrl'), 'npmstart');
});

afterAll(async () => {
  killAll(leftovers);
  await schema.drop();
  const redis = new Redis(inject('redisUrl'));
  const keys = await redis.keys(`${prefix}:*`);
  if (keys.length > 0) await redis.unlink(...keys);
  redis.disconnect();
});

function npmStart(): { npm: ChildProcess; output: () => string } {
  let output = '';
  const npm = spawn('npm', ['start'], {
    cwd: REPO_ROOT,
    env: {
      ...process.env,
      REDIS_URL: inject('redisUrl'),
      DATABASE_URL: schema.url,
      STREAMSINK_AUTO_MIGRATE: 'true',
      STREAMSINK_KEY_PREFIX: prefix,
      STREAMSINK_STREAM: 'events',
      STREAMSINK_CONSUMER: 'npm-start',
      METRICS_PORT: '0',
      METRICS_HOST: '127.0.0.1',
      LOG_LEVEL: 'info',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  npm.stdout?.on('data', (d) => {
    output += d;
  });
  npm.stderr?.on('data', (d) => {
    output += d;
  });
  return { npm, output: () => output };
}

describe('npm start', () => {
  it('the worker stops, draining, when npm is sent SIGTERM', async () => {
    const { npm, output } = npmStart();
    const npmPid = npm.pid as number;
    leftovers.push(npmPid);
    await waitFor(() => output().includes('worker started'), { timeoutMs: 60_000, describe: output });
    // The node process itself, not the `sh -c "node src/cli/main.ts worker"` around it.
    const worker = descendants(npmPid).find((pid) =>
      /^\S*node src\/cli\/main\.ts worker/.test(commandLine(pid)),
    );
    expect(worker, `node worker under npm (${output()})`).toBeDefined();
    leftovers.push(...descendants(npmPid));

    process.kill(npmPid, 'SIGTERM');
    await waitFor(() => !isRunning(worker as number), {
      timeoutMs: 20_000,
      describe: () => `worker ${worker} still running: ${commandLine(worker as number)}`,
    });
    // A graceful stop (in-flight batches drained and acknowledged), not a kill.
    await waitFor(() => output().includes('worker stopped'), { timeoutMs: 5000, describe: output });
    expect(output()).toContain('the parent process (npm) exited');
  });
});
