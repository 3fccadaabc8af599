import { randomBytes } from 'node:crypto';

/**
 * A name no other test uses: `prefix_<12 hex>`. Streams, groups, schemas and consumers all take one. The first
 * 4 hex digits are the test run's tag (STREAMSINK_TEST_RUN, set by test/helpers/global-setup.ts) when there is
 * one: the run's teardown finds by it whatever a test left under the default key prefix.
 */
export function uniqueName(prefix: string): string {
  const run = /^[0-9a-f]{4}$/.test(process.env.STREAMSINK_TEST_RUN ?? '')
    ? process.env.STREAMSINK_TEST_RUN
    : '';
  return `${prefix}_${run}${randomBytes(run ? 4 : 6).toString('hex')}`;
}
