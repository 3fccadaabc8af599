import { loadPipeline } from '../consumers/pipeline-loader.ts';
import { parseMigrateConfig, redactUrl } from '../lib/config.ts';
import { ConnectionError, describeError } from '../lib/errors.ts';
import { migrate, REQUIRED_SCHEMA_VERSION } from '../lib/migrations.ts';
import { createPool } from '../lib/pg.ts';
import { explainPostgres } from './connections.ts';
import { type CliContext, parseFlags, parseWithFlags } from './context.ts';

const HELP = `Usage: streamsink migrate [--pipeline P]

Apply the database migrations this build needs, each once and in its own transaction, in the schema the
connection uses (its search_path); with a pipeline, then the pipeline's own migrations (definePipeline's
\`migrations\`, in order, recorded per pipeline; an edited applied migration is refused). Safe to run from
many pods at once: runs take an advisory lock, and a migration already applied is skipped. Prints what it applied. Exit code 0 on success, 1 on failure
(a connection or credential failure is one line naming the server, secrets masked).
Configuration: DATABASE_URL (or DATABASE_URL_FILE).

Options:
  --pipeline P   a built-in pipeline (event-log, payments), a file (./orders-pipeline.mjs) or a package;
                 default STREAMSINK_PIPELINE when set; with neither, only streamsink's own schema
  -h, --help     this text
`;

export async function run(args: string[], ctx: CliContext): Promise<number> {
  const flags = parseFlags(
    args,
    { pipeline: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    HELP,
  );
  if (flags.help === true) {
    ctx.stdout.write(HELP);
    return 0;
  }
  const config = parseWithFlags(
    (env) =>
      parseMigrateConfig(env, {
        readFile: ctx.readFile,
        hostname: ctx.hostname,
        // The pipeline named by --pipeline or STREAMSINK_PIPELINE (the workers' ConfigMap): migrate what they run.
        withPipeline: flags.pipeline !== undefined || (ctx.env.STREAMSINK_PIPELINE ?? '') !== '',
      }),
    ctx.env,
    flags,
    { pipeline: 'STREAMSINK_PIPELINE' },
  );
  const pipelines =
    config.pipeline === undefined
      ? []
      : [
          await loadPipeline(config.pipeline.name, {
            cwd: ctx.cwd ?? '.',
            env: ctx.env,
            builtIn: { currencies: config.pipeline.payments.currencies },
          }),
        ];
  // No worker session timeouts: a migration may rightly run (or wait for its lock) longer than a batch.
  const pool = createPool(
    { url: config.postgres.url, poolSize: 1 },
    { applicationName: 'streamsink:migrate' },
  );
  try {
    const result = await migrate(pool, undefined, { pipelines });
    for (const m of result.applied) ctx.stdout.write(`applied ${m.version} ${m.name}\n`);
    for (const m of result.pipelineApplied) ctx.stdout.write(`applied ${m.pipeline} ${m.name}\n`);
    ctx.stdout.write(
      result.applied.length === 0 && result.pipelineApplied.length === 0
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
