import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli-in-process.ts';
import { freePort } from '../helpers/servers-own.ts';

describe('one-shot commands with REDIS_CLUSTER_NODES nobody answers on', () => {
  it.each([
    ['stream', 'describe', '--stream', 's'],
    ['status', '--stream', 's', '--group', 'g'],
    ['dlq', 'list', '--stream', 's'],
  ])('%s %s fails at once with one line naming the seed node, secrets masked, exit 1', async (...args) => {
    const port = await freePort(); // free a moment ago: nothing listens there
    const result = await runCli(args, {
      REDIS_URL: 'redis://ops:hunter2@unused',
      REDIS_CLUSTER_NODES: `127.0.0.1:${port}`,
      DATABASE_URL: 'postgres://postgres@127.0.0.1:1/x',
    });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(
      new RegExp(
        `cannot connect to Redis at redis://\\*\\*\\*:\\*\\*\\*@127\\.0\\.0\\.1:${port}.*None of startup nodes`,
      ),
    );
    expect(result.stderr).not.toContain('hunter2');
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
  });
});
