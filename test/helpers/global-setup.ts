import type {} from 'vitest';
import type { TestProject } from 'vitest/node';
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
  console.log(`integration servers (${servers.source}): redis and postgres ready`);
  return servers.stop;
}
