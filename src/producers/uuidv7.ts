import { randomFillSync } from 'node:crypto';

/**
 * RFC 9562 UUIDv7: 48-bit Unix milliseconds, version 7, 12 bits `rand_a`, variant 10, 62 bits `rand_b`.
 *
 * Ids from one generator sort in creation order, also within one millisecond and when the clock steps back:
 * `rand_a` is a counter (RFC 9562 section 6.2, method 1) seeded at random each new millisecond with its top
 * bit clear, so it has room to count; when it overflows, the timestamp moves one millisecond ahead of the clock.
 * Event ids being time-ordered keeps them readable in logs and friendly to B-tree indexes downstream.
 */
export interface UuidV7Source {
  /** Unix time in milliseconds. */
  now: () => number;
  /** Fills the array with random bytes. */
  random: (bytes: Uint8Array) => void;
}

const defaultSource: UuidV7Source = {
  now: () => Date.now(),
  random: (bytes) => {
    randomFillSync(bytes);
  },
};

/** Create a UUIDv7 generator. Each generator keeps its own ordering state; the source is injectable for tests. */
export function createUuidV7(source: UuidV7Source = defaultSource): () => string {
  let lastMs = -1;
  let counter = 0;
  const bytes = new Uint8Array(16);
  const seed = new Uint8Array(2);

  return () => {
    const now = Math.floor(source.now());
    if (now > lastMs) {
      lastMs = now;
      source.random(seed);
      counter = (((seed[0] as number) << 8) | (seed[1] as number)) & 0x7ff;
    } else {
      counter += 1;
      if (counter > 0xfff) {
        lastMs += 1;
        counter = 0;
      }
    }
    source.random(bytes);
    // 48-bit big-endian milliseconds; split because bitwise operators work on 32 bits.
    const high = Math.floor(lastMs / 2 ** 16);
    const low = lastMs % 2 ** 16;
    bytes[0] = (high >>> 24) & 0xff;
    bytes[1] = (high >>> 16) & 0xff;
    bytes[2] = (high >>> 8) & 0xff;
    bytes[3] = high & 0xff;
    bytes[4] = (low >>> 8) & 0xff;
    bytes[5] = low & 0xff;
    bytes[6] = 0x70 | ((counter >>> 8) & 0x0f);
    bytes[7] = counter & 0xff;
    bytes[8] = 0x80 | ((bytes[8] as number) & 0x3f);
    return format(bytes);
  };
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

function format(b: Uint8Array): string {
  let s = '';
  for (let i = 0; i < 16; i++) {
    if (i === 4 || i === 6 || i === 8 || i === 10) s += '-';
    s += HEX[b[i] as number];
  }
  return s;
}

/** Milliseconds encoded in a UUIDv7, or undefined when the string is not a UUIDv7. */
export function uuidV7Time(id: string): number | undefined {
  if (!/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/.test(id)) return undefined;
  return Number.parseInt(id.slice(0, 8) + id.slice(9, 13), 16);
}
