/**
 * Which way the read loop brings new entries in: a plain XREADGROUP (the fast path) or read-entries.lua, which
 * measures every entry inside Redis (the safe path). Pure: the stream client keeps the state and does the I/O.
 *
 * A plain XREADGROUP costs Redis about a third of the script (the script copies every entry into Lua and back),
 * but it hands over whatever the entries hold: one raw 30 MB XADD would arrive whole. So a plain read is sent
 * only with a tripwire: it asks for few enough entries that, at the sizes seen so far, the reply stays well
 * inside the byte budget, and the stream client cuts the connection once the reply passes the budget (the
 * entries it took stay pending and come back through the script's claim path, measured). After a trip, or
 * once a plain read brings an entry over the payload limit, reads go through the script for `cooldownMs`: a
 * run of large entries is then measured and dead-lettered inside Redis instead of tripping again and again.
 */
export interface ReadPathState {
  /** Mean bytes per entry of recent plain reads (as received on the socket). */
  meanEntryBytes: number;
  /** Until this time (ms) reads go through the script. */
  scriptUntil: number;
}

export type ReadPlan =
  | { path: 'script' }
  | {
      path: 'native';
      /** Entries to ask for. */
      count: number;
      /** Received bytes past which the read is cut off. */
      byteLimit: number;
    };

export interface ReadPathOptions {
  /** STREAMSINK_MAX_PAYLOAD_BYTES: the size assumed before any entry was seen. */
  maxPayloadBytes: number;
  /** How long reads stay on the script after a trip or an oversize entry. */
  cooldownMs: number;
}

/** Ask for at most budget / (HEADROOM x mean entry size) entries: a trip needs entries 4x the recent mean. */
const HEADROOM = 4;

export function initialReadPath(options: Pick<ReadPathOptions, 'maxPayloadBytes'>): ReadPathState {
  // Before anything was seen, assume a quarter of the payload limit: the first read asks for few entries.
  return { meanEntryBytes: Math.max(1, options.maxPayloadBytes / HEADROOM), scriptUntil: 0 };
}

export function planRead(
  state: ReadPathState,
  request: { count: number; bytes: number; now: number },
): ReadPlan {
  if (request.now < state.scriptUntil) return { path: 'script' };
  const fits = Math.floor(request.bytes / (HEADROOM * state.meanEntryBytes));
  return {
    path: 'native',
    count: Math.max(1, Math.min(request.count, fits)),
    byteLimit: Math.max(1, Math.floor(request.bytes)),
  };
}

/**
 * After a plain read that completed: follow the sizes seen. Larger entries count at once; smaller ones lower
 * the estimate by at most 16x per read, so the cautious first reads reach full batches within three reads
 * without one read of small entries hiding the large ones just before it.
 */
export function afterPlainRead(
  state: ReadPathState,
  read: { entries: number; bytesReceived: number },
): ReadPathState {
  if (read.entries === 0) return state;
  const observed = Math.max(1, read.bytesReceived / read.entries);
  return { ...state, meanEntryBytes: Math.max(observed, state.meanEntryBytes / 16) };
}

/** A plain read passed its byte limit, or brought an entry over the payload limit: measure for a while. */
export function afterLargeEntry(
  state: ReadPathState,
  event: { now: number },
  options: ReadPathOptions,
): ReadPathState {
  return {
    meanEntryBytes: Math.max(state.meanEntryBytes, options.maxPayloadBytes / HEADROOM),
    scriptUntil: event.now + options.cooldownMs,
  };
}
