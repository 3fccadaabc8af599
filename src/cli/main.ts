#!/usr/bin/env node
import { readFileSync, realpathSync } from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { StreamsinkError } from '../lib/errors.ts';
import { redactText } from '../lib/redact.ts';
import type { CliContext, Command } from './context.ts';
import { watchParent } from './parent-watch.ts';
import { suggest } from './suggest.ts';

/**
 * The CLI entry and the composition root for commands. Each command module exports `run(args, ctx)` and
 * builds its own clients from the config it parses.
 */
const COMMANDS: Record<string, { summary: string; load: () => Promise<Command> }> = {
  publish: {
    summary: 'publish NDJSON events onto a stream',
    load: async () => (await import('./publish.ts')).run,
  },
  migrate: { summary: 'apply database migrations', load: async () => (await import('./migrate.ts')).run },
  worker: { summary: 'run a consumer-group worker', load: async () => (await import('./worker.ts')).run },
  status: {
    summary: 'show a stream and group: lag, pending, consumers',
    load: async () => (await import('./status.ts')).run,
  },
  dlq: { summary: 'inspect or redrive dead letters', load: async () => (await import('./dlq.ts')).run },
  stream: {
    summary: 'create a partitioned stream, describe it, trim it up to what every group acknowledged',
    load: async () => (await import('./stream.ts')).run,
  },
  inbox: {
    summary: 'prune inbox rows whose events can no longer arrive',
    load: async () => (await import('./inbox.ts')).run,
  },
  proof: {
    summary: 'print the proof recorded for an applied event, with its parts',
    load: async () => (await import('./proof.ts')).run,
  },
  replay: {
    summary: 're-run a pipeline over a stream and compare with the recorded proofs',
    load: async () => (await import('./replay.ts')).run,
  },
  console: {
    summary: 'serve the operator web console (dead letters, groups)',
    load: async () => (await import('./console.ts')).run,
  },
};

const HELP = `streamsink: Redis Streams to Postgres with effectively-once effects

Usage: streamsink <command> [options]

Commands:
${Object.entries(COMMANDS)
  .map(([name, c]) => `  ${name.padEnd(10)} ${c.summary}`)
  .join('\n')}

Run \`streamsink <command> --help\` for a command's options. Configuration comes from the environment
(REDIS_URL, DATABASE_URL, LOG_LEVEL, STREAMSINK_*); see the README's configuration table.
`;

export async function main(argv: string[], ctx: CliContext): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    ctx.stdout.write(HELP);
    return name === undefined ? 2 : 0;
  }
  if (name === '--version') {
    ctx.stdout.write('streamsink 0.1.0\n');
    return 0;
  }
  const command = COMMANDS[name];
  if (!command) {
    const near = suggest(name, Object.keys(COMMANDS));
    const hint = near === undefined ? '' : `; did you mean \`streamsink ${near}\`?`;
    ctx.stderr.write(`streamsink: unknown command ${JSON.stringify(name)}${hint}\n\n${HELP}`);
    return 2;
  }
  try {
    return await (await command.load())(rest, ctx);
  } catch (error) {
    // Configuration and usage errors are the operator's to fix: say what is wrong, no stack trace.
    if (
      error instanceof StreamsinkError &&
      !error.retryable &&
      (error.code === 'config_invalid' || error.code === 'usage')
    ) {
      ctx.stderr.write(`streamsink ${name}: ${redactText(error.message)}\n`);
      return 2;
    }
    // Connection failures, a schema behind, a missing stream: one line, no stack trace, exit 1.
    if (error instanceof StreamsinkError) {
      ctx.stderr.write(`streamsink ${name}: ${redactText(error.message)}\n`);
      return 1;
    }
    throw error;
  }
}

/** Node before 22.18 has no `import.meta.main`; without this check the CLI would silently do nothing there. */
function isEntryPoint(): boolean {
  if (typeof import.meta.main === 'boolean') return import.meta.main;
  const script = process.argv[1];
  return script !== undefined && realpathSync(script) === fileURLToPath(import.meta.url);
}

const MIN_NODE_MAJOR = 24;

/**
 * Run the CLI as this process: arguments from `process.argv`, signals wired to one AbortController, the exit
 * code set when the command returns. Called when this file is the entry point (`node dist/cli/main.js`,
 * `node src/cli/main.ts`) and by the `streamsink` bin (bin/streamsink.js), which imports it.
 */
export function runProcess(): void {
  if (Number(process.versions.node.split('.')[0]) < MIN_NODE_MAJOR) {
    process.stderr.write(
      `streamsink needs Node.js ${MIN_NODE_MAJOR} or later; this is ${process.version}. ` +
        'In a checkout, run it through npm (`npm start`, `npm run cli -- <command>`): the project installs Node 24.\n',
    );
    process.exitCode = 2;
    return;
  }
  const controller = new AbortController();
  let signals = 0;
  const stop = (sig: NodeJS.Signals, why: string) => {
    signals += 1;
    // A second signal means "now": exit without waiting for in-flight work (it stays pending in Redis).
    if (signals > 1) process.exit(sig === 'SIGINT' ? 130 : 143);
    controller.abort(new Error(why));
  };
  const onSignal = (sig: NodeJS.Signals) => stop(sig, `received ${sig}`);
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  // Under `npm start`, npm's SIGTERM does not reach us (npm -> sh -> node): stop when npm is gone.
  // Not a second signal when already stopping: Ctrl-C reaches us and, through npm, ends our parent too.
  watchParent(process.env, () => {
    if (!controller.signal.aborted) stop('SIGTERM', 'the parent process (npm) exited');
  });
  const ctx: CliContext = {
    env: process.env,
    stdin: process.stdin,
    stdout: process.stdout,
    stderr: process.stderr,
    interactive: Boolean(process.stderr.isTTY),
    hostname: os.hostname(),
    cwd: process.cwd(),
    readFile: (path) => readFileSync(path, 'utf8'),
    signal: controller.signal,
  };
  main(process.argv.slice(2), ctx)
    .then(
      (code) => {
        process.exitCode = code;
      },
      (error: unknown) => {
        // A bug: the stack helps, but a driver may quote a connection string in it.
        process.stderr.write(
          `streamsink: unexpected error: ${redactText(error instanceof Error ? String(error.stack) : String(error))}\n`,
        );
        process.exitCode = 1;
      },
    )
    .finally(() => {
      // The command has returned and closed what it could. A client that would not close (a pg query stuck
      // behind a lock during shutdown) must not keep the process alive past its budget; unref'd, so a clean
      // exit is never delayed.
      setTimeout(() => process.exit(), 2000).unref();
    });
}

if (isEntryPoint()) runProcess();
