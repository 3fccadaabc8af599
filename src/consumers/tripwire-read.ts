import type { Socket } from 'node:net';
import type { Redis } from 'ioredis';
import type { RedisClient } from '../lib/redis/client.ts';
import { isCluster } from '../lib/redis/client.ts';

/**
 * A plain XREADGROUP on a connection of its own, cut off once its reply passes a byte limit (read-path.ts says
 * when this is used instead of read-entries.lua). The worker's read loop is the only user of its connection
 * and sends one command at a time, so every byte that arrives while the read is out belongs to its reply.
 *
 * Cutting off means destroying the socket: Redis has already moved the entries into this consumer's pending
 * list, and what arrived of them is dropped unparsed. For that to be safe the connection must neither resend
 * the command after it reconnects (it would read further entries, unwatched) nor keep it waiting for the
 * reconnect: `autoResendUnfulfilledCommands: false` and `maxRetriesPerRequest: 0` ({@link READER_OPTIONS}),
 * which make ioredis reject it at once. {@link canTripwireRead} checks them, so a connection set up
 * otherwise (or a cluster client) is read through the script instead.
 */

/** The ioredis options the reader connection needs for {@link tripwireRead}. */
export const READER_OPTIONS = { autoResendUnfulfilledCommands: false, maxRetriesPerRequest: 0 } as const;

export function canTripwireRead(redis: RedisClient): redis is Redis {
  if (isCluster(redis)) return false;
  const options = redis.options;
  return options.autoResendUnfulfilledCommands === false && options.maxRetriesPerRequest === 0;
}

export type TripwireResult =
  | { tripped: false; entries: Array<[string, string[]]>; bytesReceived: number }
  | { tripped: true; bytesReceived: number };

/** The socket ioredis reads from, when it is connected and idle enough to attribute bytes to one reply. */
function readySocket(redis: Redis): Socket | undefined {
  if (redis.status !== 'ready') return undefined;
  const stream = (redis as unknown as { stream?: Socket }).stream;
  return stream && !stream.destroyed ? stream : undefined;
}

/**
 * XREADGROUP GROUP group consumer COUNT count STREAMS stream >, without blocking. Returns `undefined` when the
 * connection is not ready (the caller reads through the script, which waits for the reconnect).
 */
export async function tripwireRead(
  redis: Redis,
  read: { stream: string; group: string; consumer: string; count: number; byteLimit: number },
): Promise<TripwireResult | undefined> {
  const socket = readySocket(redis);
  if (!socket) return undefined;
  let received = 0;
  let tripped = false;
  let trip: () => void = () => {};
  const cut = new Promise<void>((resolve) => {
    trip = resolve;
  });
  const onData = (chunk: Buffer) => {
    received += chunk.length;
    if (!tripped && received > read.byteLimit) {
      tripped = true;
      socket.destroy();
      trip();
    }
  };
  socket.on('data', onData);
  const command = redis.xreadgroup(
    'GROUP',
    read.group,
    read.consumer,
    'COUNT',
    read.count,
    'STREAMS',
    read.stream,
    '>',
  ) as Promise<Array<[string, Array<[string, string[]]>]> | null>;
  try {
    const outcome = await Promise.race([command, cut.then(() => 'tripped' as const)]);
    if (outcome === 'tripped') {
      // ioredis rejects the command when the socket closes (READER_OPTIONS); nobody waits for it any more.
      command.catch(() => {});
      return { tripped: true, bytesReceived: received };
    }
    return { tripped: false, entries: outcome?.[0]?.[1] ?? [], bytesReceived: received };
  } catch (error) {
    if (tripped) return { tripped: true, bytesReceived: received };
    throw error;
  } finally {
    socket.off('data', onData);
  }
}
