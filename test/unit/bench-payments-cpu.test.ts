import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const SCRIPT = fileURLToPath(new URL('../../bench/payments-cpu.ts', import.meta.url));

// The in-process harness quoted in docs/performance.md drives the inbox and the pipeline through a stand-in
// connection: when a statement's shape changes, it must keep running, not fail the day someone needs it.
describe('bench/payments-cpu.ts', () => {
  for (const form of ['decide', 'apply']) {
    it(`runs the ${form} form end to end on a small batch set`, async () => {
      const { stdout } = await run(process.execPath, [SCRIPT, '--form', form, '--events', '1000'], {
        timeout: 60_000,
      });
      expect(stdout).toContain(`payments (${form})`);
      expect(stdout).toMatch(
        /median of the last 5: total \d+\.\d+ \(prove \d+\.\d+, inbox \d+\.\d+, apply \d+\.\d+\)/,
      );
    }, 90_000);
  }
});
