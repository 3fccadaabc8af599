import { execFile } from 'node:child_process';

/**
 * `promtool check metrics` on an exposition text. promtool comes from Debian's `prometheus` package; .ci/run
 * installs it when missing. Resolves with the exit code and promtool's complaints.
 */
export function promtoolCheckMetrics(text: string): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    const child = execFile(
      process.env.PROMTOOL ?? 'promtool',
      ['check', 'metrics'],
      (error, stdout, stderr) => {
        const code = error ? (error as { code?: unknown }).code : 0;
        if (code === 'ENOENT') {
          resolve({ code: 127, output: 'promtool is not installed: apt-get install -y prometheus' });
          return;
        }
        resolve({ code: typeof code === 'number' ? code : 1, output: `${stdout}${stderr}` });
      },
    );
    child.stdin?.on('error', () => {}); // EPIPE when promtool is missing
    child.stdin?.end(text);
  });
}
