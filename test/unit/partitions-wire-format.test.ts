import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { partitionOf } from '../../src/lib/partitions/partition-of.ts';
import { partitionTag } from '../../src/lib/partitions/partition-tags.ts';
import { keyHashSlot } from '../../src/lib/redis/key-slot.ts';

/** docs/wire-format.md#partitions is what producers in other languages implement: its vectors must hold. */
const doc = readFileSync(new URL('../../docs/wire-format.md', import.meta.url), 'utf8');
const section = doc.slice(doc.indexOf('## Partitions'), doc.indexOf('## Idempotent publish'));

describe('docs/wire-format.md#partitions', () => {
  it('routes each documented key to the documented partition, from the documented digest bytes', async () => {
    const { createHash } = await import('node:crypto');
    const rows = [
      ...section.matchAll(/^\| `([^`]+)` +\| `([0-9a-f]{8})` +\| (\d+) +\| (\d+) +\| (\d+) +\|$/gm),
    ];
    expect(rows.length).toBeGreaterThanOrEqual(3);
    for (const [, key, bytes, u32, p16, p64] of rows) {
      const digest = createHash('sha256')
        .update(key as string, 'utf8')
        .digest();
      expect(digest.subarray(0, 4).toString('hex'), key).toBe(bytes);
      expect(digest.readUInt32BE(0)).toBe(Number(u32));
      expect(partitionOf(key as string, 16), key).toBe(Number(p16));
      expect(partitionOf(key as string, 64), key).toBe(Number(p64));
    }
  });

  it('gives the documented tags and slots for stream orders with 16 partitions', () => {
    const tags = [
      ...section.matchAll(/partition (\d+) is `([^`]+)`\s+\(slot (\d+)\)|(\d+) is `([^`]+)` \(slot (\d+)\)/g),
    ];
    expect(tags.length).toBe(4);
    for (const m of tags) {
      const p = Number(m[1] ?? m[4]);
      const tag = (m[2] ?? m[5]) as string;
      expect(partitionTag('orders', p, 16)).toBe(tag);
      expect(keyHashSlot(`streamsink:{${tag}}`)).toBe(Number(m[3] ?? m[6]));
    }
  });

  it('names the hash and tag scheme the code writes into the metadata', async () => {
    const { PARTITION_HASH } = await import('../../src/lib/partitions/partition-of.ts');
    const { TAG_SCHEME } = await import('../../src/lib/partitions/stream-layout.ts');
    expect(section).toContain(`\`${PARTITION_HASH}\``);
    expect(section).toContain(`\`${TAG_SCHEME}\``);
  });
});
