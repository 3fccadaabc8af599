/**
 * The Redis Cluster slot of a key: CRC16 (XMODEM: polynomial 0x1021, init 0) of the key's hash tag, mod 16384.
 * The hash tag is the text between the first `{` and the next `}` when that text is not empty; otherwise the
 * whole key is hashed (the rule of redis/src/cluster.c keyHashSlot). Bytes are the key's UTF-8 encoding.
 */
export const CLUSTER_SLOTS = 16384;

const TABLE = buildTable();

function buildTable(): Uint16Array {
  const table = new Uint16Array(256);
  for (let byte = 0; byte < 256; byte++) {
    let crc = byte << 8;
    for (let bit = 0; bit < 8; bit++)
      crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
    table[byte] = crc;
  }
  return table;
}

export function crc16(bytes: Uint8Array): number {
  let crc = 0;
  for (const byte of bytes) crc = ((crc << 8) & 0xffff) ^ (TABLE[((crc >> 8) ^ byte) & 0xff] as number);
  return crc;
}

/** The part of `key` that decides its slot. */
export function hashTagOf(key: string): string {
  const open = key.indexOf('{');
  if (open < 0) return key;
  const close = key.indexOf('}', open + 1);
  if (close < 0 || close === open + 1) return key;
  return key.slice(open + 1, close);
}

export function keyHashSlot(key: string): number {
  return crc16(Buffer.from(hashTagOf(key), 'utf8')) % CLUSTER_SLOTS;
}
