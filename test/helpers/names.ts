import { randomBytes } from 'node:crypto';

/** A name no other test uses: `prefix_<12 hex>`. Streams, groups, schemas and consumers all take one. */
export function uniqueName(prefix: string): string {
  return `${prefix}_${randomBytes(6).toString('hex')}`;
}
