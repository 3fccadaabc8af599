import type { Env } from '../lib/config.ts';

/**
 * Stop with the process that started us when it goes away without passing its signal on. `npm start` runs
 * `sh -c "node ..."`: npm sent SIGTERM exits and the worker would keep running, orphaned (reparented to
 * init), holding its consumer name and its pending entries. A process's parent never changes while it lives,
 * so a changed `process.ppid` means the parent is gone: treat it as SIGTERM (a graceful shutdown).
 *
 * Only under npm (`npm_lifecycle_event` is set for package scripts): a worker started with `nohup ... &` from
 * a shell that then closes is reparented on purpose and must keep running.
 */
export function watchParent(
  env: Env,
  onOrphaned: () => void,
  options: { intervalMs?: number; ppid?: () => number } = {},
): () => void {
  if (!env.npm_lifecycle_event) return () => {};
  const ppid = options.ppid ?? (() => process.ppid);
  const parent = ppid();
  const timer = setInterval(() => {
    if (ppid() === parent) return;
    clearInterval(timer);
    onOrphaned();
  }, options.intervalMs ?? 500);
  // Never keeps the process alive by itself: once the command is done, it exits.
  timer.unref();
  return () => clearInterval(timer);
}
