import { describe, expect, it } from 'vitest';
import { watchParent } from '../../src/cli/parent-watch.ts';
import { waitFor } from '../helpers/wait.ts';

describe('watchParent', () => {
  it('calls back once when the parent changes, under npm', async () => {
    let parent = 100;
    let calls = 0;
    const stop = watchParent({ npm_lifecycle_event: 'start' }, () => calls++, {
      intervalMs: 5,
      ppid: () => parent,
    });
    parent = 1;
    await waitFor(() => calls === 1);
    parent = 7;
    await new Promise((r) => setTimeout(r, 30));
    expect(calls).toBe(1);
    stop();
  });
  it('does nothing outside npm (a nohup worker is reparented on purpose)', async () => {
    let parent = 100;
    let looked = 0;
    const stop = watchParent({}, () => expect.fail('called'), {
      intervalMs: 5,
      ppid: () => {
        looked++;
        return parent;
      },
    });
    parent = 1;
    await new Promise((r) => setTimeout(r, 30));
    expect(looked).toBe(0);
    stop();
  });
});
