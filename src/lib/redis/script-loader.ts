import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { RedisClient as Redis } from './client.ts';

/**
 * A Lua script loaded from its `.lua` file, run with EVALSHA and falling back to EVAL when the server does
 * not know it yet (after a restart or SCRIPT FLUSH). Keeps the caller's client untouched (no defineCommand).
 */
export interface LuaScript {
  readonly sha: string;
  run(redis: Redis, keys: readonly string[], args: readonly (string | number)[]): Promise<unknown>;
}

export function loadLuaScript(url: URL): LuaScript {
  const source = readFileSync(url, 'utf8');
  const sha = createHash('sha1').update(source).digest('hex');
  return {
    sha,
    async run(redis, keys, args) {
      try {
        return await redis.evalsha(sha, keys.length, ...keys, ...args);
      } catch (error) {
        if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error;
        return await redis.eval(source, keys.length, ...keys, ...args);
      }
    },
  };
}
