import { randomBytes } from 'node:crypto';
import type {} from 'vitest';
import type { TestProject } from 'vitest/node';
import { leakedUnderDefaultPrefix, summarizeLeak } from './default-prefix-check.ts';
import { resolveTestServers } from './servers.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    redisUrl: string;
    databaseUrl: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const servers = await resolveTestServers(process.env);
  project.provide('redisUrl', servers.redisUrl);
  project.provide('databaseUrl', servers.databaseUrl);
  // This run's tag, in every uniqueName (test workers and the processes they start inherit it).
  const runTag = randomBytes(2).toString('hex');
  process.env.STREAMSINK_TEST_RUN = runTag;
  console.log(`integration servers (${servers.source}): redis and postgres ready`);
  return async () => {
    try {
      const leaked = await leakedUnderDefaultPrefix(servers.redisUrl, runTag);
      if (leaked.length > 0) {
        // vitest reports an error thrown here but still exits 0: set the exit code so the run fails.
        process.exitCode = 1;
        console.error(
          `FAIL: tests left ${leaked.length} keys under the default prefix "streamsink" (deleted now); give ` +
            `these tests their own STREAMSINK_KEY_PREFIX / keyPrefix:\n${summarizeLeak(leaked)}`,
        );
      }
    } finally {
      await servers.stop();
    }
  };
}
