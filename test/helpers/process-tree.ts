import { readdirSync, readFileSync } from 'node:fs';

/** Linux process-table reading for tests that must prove no child process survives (/proc, no `ps`). */

interface ProcInfo {
  pid: number;
  ppid: number;
  state: string;
}

function stat(pid: number): ProcInfo | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // pid (comm) state ppid ...: comm may hold spaces and parentheses, so split after its last ')'.
    const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return { pid, state: rest[0] as string, ppid: Number(rest[1]) };
  } catch {
    return undefined;
  }
}

/** Whether `pid` is a running process (a zombie, exited but not yet reaped, counts as gone). */
export function isRunning(pid: number): boolean {
  const info = stat(pid);
  return info !== undefined && info.state !== 'Z' && info.state !== 'X';
}

/** The command line of `pid`, arguments joined by spaces; '' when it is gone. */
export function commandLine(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
  } catch {
    return '';
  }
}

/** Every running descendant of `pid` (children, their children, ...). */
export function descendants(pid: number): number[] {
  const all = readdirSync('/proc')
    .filter((n) => /^\d+$/.test(n))
    .map((n) => stat(Number(n)))
    .filter((p): p is ProcInfo => p !== undefined && p.state !== 'Z');
  const out: number[] = [];
  const queue = [pid];
  while (queue.length > 0) {
    const parent = queue.shift() as number;
    for (const p of all)
      if (p.ppid === parent) {
        out.push(p.pid);
        queue.push(p.pid);
      }
  }
  return out;
}

/** Best-effort SIGKILL of processes a failed test left behind, by pid. */
export function killAll(pids: readonly number[]): void {
  for (const pid of pids) {
    try {
      if (isRunning(pid)) process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}
