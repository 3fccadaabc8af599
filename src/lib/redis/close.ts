import type { RedisClient } from './client.ts';

/**
 * Closing an ioredis client without waiting on a connection that is not there. Two ioredis behaviours made a
 * process outlive its work when Redis could not be reached:
 *
 * - `disconnect()` arms a ref'd timer (`disconnectTimeout`) that destroys the socket unless its `close` event
 *   comes first. On a client whose socket already closed (status `end`: a refused connect with no retry, the
 *   one-shot CLI commands) `close` never comes again, so the timer alone kept the finished command alive.
 * - `quit()` on a client that is not connected waits in the offline queue behind the commands already there
 *   (with `maxRetriesPerRequest: null`, the worker's, for as long as Redis stays down), so a shutdown waited
 *   out its whole timeout for a QUIT that could not be sent.
 */

/**
 * Drop the connection now; nothing to do when it has already ended. Replies not yet read are lost. Commands
 * a reconnecting client still holds for the next attempt are never sent, and ioredis does not reject them
 * either: whoever waits on one must also watch for shutdown (the worker's start races its abort signal).
 */
export function disconnectRedis(redis: RedisClient): void {
  if (redis.status === 'end') return;
  redis.disconnect();
}

/**
 * Close politely when connected (QUIT: the server answers what it was sent first), within `timeoutMs`, and
 * drop the connection otherwise: when it is down or reconnecting there is nobody to say QUIT to, and the
 * reconnect attempts stop. Never throws.
 */
export async function closeRedis(redis: RedisClient, timeoutMs: number): Promise<void> {
  if (redis.status !== 'ready') return disconnectRedis(redis);
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), timeoutMs);
    timer.unref();
  });
  try {
    if ((await Promise.race([redis.quit(), timeout])) === 'timeout') disconnectRedis(redis);
  } catch {
    disconnectRedis(redis);
  } finally {
    clearTimeout(timer);
  }
}
