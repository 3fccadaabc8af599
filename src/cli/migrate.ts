import { parseConfig, redactUrl } from '../lib/config.ts';
import { ConnectionError, describeError } from '../lib/errors.ts';
import { migrate, REQUIRED_SCHEMA_VERSION } from '../lib/migrations.ts';
import { createPool } from '../lib/pg.ts';
import { explainPostgres } from './connections.ts';
import { type CliContext, parseFlags } from './context.ts';

const HELP = `Usage: streamsink migrate

Apply the database migrations this build needs, each once and in its own transaction, in the schema the
connection uses (its search_path). Safe to run from many pods at once: runs take an advisory lock, and a
migration already applied is skipped. Prints what it applied. Exit code 0 on success, 1 on failure
(a connection or credential failure is one line naming the server, secrets masked).
Configuration: DATABASE_URL (or DATABASE_URL_FILE).

Options:
  -h, --help   this text
`;

export async function run(args: string[], ctx: CliContext): Promise<number> {
  const help = parseFlags(args, { help: { type: 'boolean', short: 'h' } }, HELP).help === true;
  if (help) {
    ctx.stdout.write(HELP);
    return 0;
  }
  const config = parseConfig(ctx.env, { readFile: ctx.readFile, hostname: ctx.hostname });
  // No worker session timeouts: a migration may rightly run (or wait for its lock) longer than a batch.
  const pool = createPool(
    { url: config.postgres.url, poolSize: 1 },
    { applicationName: 'streamsink:migrate' },
  );
  try {
    const result = await migrate(pool);
    for (const m of result.applied) ctx.stdout.write(`applied ${m.version} ${m.name}\n`);
    ctx.stdout.write(
      result.applied.length === 0
        ? `schema ${result.schema} is current at version ${result.version} (this build needs ${REQUIRED_SCHEMA_VERSION})\n`
        : `schema ${result.schema} is now at version ${result.version}\n`,
    );
    return 0;
  } catch (error) {
    // A connection or credential failure is one sentence naming the server and what to check; anything
    // else (a failing migration) is the driver's message, with the server it was run against.
    const explained = explainPostgres(config.postgres, error);
    ctx.stderr.write(
      explained instanceof ConnectionError
        ? `streamsink migrate: ${explained.message}\n`
        : `streamsink migrate: ${describeError(error)} (database ${redactUrl(config.postgres.url)})\n`,
    );
    return 1;
  } finally {
    await pool.end();
  }
}
