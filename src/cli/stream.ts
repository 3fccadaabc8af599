import { describeStream, type StreamDescription } from '../admin/stream-describe.ts';
import { parseStreamConfig, parseStreamCreateConfig } from '../lib/config.ts';
import { UsageError } from '../lib/errors.ts';
import { createPartitionedStream } from '../lib/partitions/stream-layout.ts';
import { disconnectRedis } from '../lib/redis/close.ts';
import { keyHashSlot } from '../lib/redis/key-slot.ts';
import { oneShotRedis } from './connections.ts';
import { type CliContext, type Flags, flagsToEnv, parseFlags } from './context.ts';
import { runTrim } from './stream-trim.ts';

const COMMON = `  --stream S        logical stream name (or STREAMSINK_STREAM)
  --json            machine-readable output
  -h, --help        this text`;

const HELP: Record<string, string> = {
  '': `Usage: streamsink stream <create|describe|trim> --stream S [options]

Manage a stream's layout and retention.
  create     create a partitioned stream (--partitions P, fixed from then on)
  describe   show the layout: partition count, hash, per-partition keys, slots, lengths and groups
  trim       remove entries every consumer group has read and acknowledged, older than the replay window

Run \`streamsink stream <subcommand> --help\` for its options. docs/scaling.md explains partitions.
Configuration: REDIS_URL (or REDIS_URL_FILE), REDIS_CLUSTER_NODES, STREAMSINK_KEY_PREFIX. Exit code 2 for
bad usage, 1 when Redis cannot be reached or refuses the credentials, or the stream's layout forbids it.
`,
  create: `Usage: streamsink stream create --stream S --partitions P [--json]

Create stream S with P partitions (1-1024; or STREAMSINK_PARTITIONS). P is stored in the stream's metadata
in Redis and is fixed: producers route each event to partition hash(key) mod P (docs/wire-format.md#partitions).
Running it again with the same P changes nothing; another P, or a stream that already has unpartitioned
entries, is refused (exit 1). Create the stream before anything publishes to it.
  --partitions P    number of partitions
${COMMON}
`,
  describe: `Usage: streamsink stream describe --stream S [--json]

Show stream S: partitioned or not, the partition count, routing hash and tag scheme, and per partition its
key, Redis Cluster slot, length, dead-letter length and consumer groups (consumers, pending, lag). Read-only.
${COMMON}
`,
};

const FLAG_OPTIONS = {
  stream: { type: 'string' },
  partitions: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

type Subcommand = (flags: Flags, ctx: CliContext) => Promise<number>;

/** One entry per subcommand: add new ones here. */
const SUBCOMMANDS: Record<string, Subcommand> = {
  create: runCreate,
  describe: runDescribe,
};

export async function run(args: string[], ctx: CliContext): Promise<number> {
  const [sub = '', ...rest] = args;
  if (sub === '' || sub === '--help' || sub === '-h' || sub === 'help') {
    ctx.stdout.write(HELP['']);
    return sub === '' ? 2 : 0;
  }
  // trim has its own options (stream-trim.ts).
  if (sub === 'trim') return await runTrim(rest, ctx);
  const command = SUBCOMMANDS[sub];
  const help = HELP[sub];
  if (command === undefined || help === undefined)
    throw new UsageError(`unknown subcommand ${JSON.stringify(sub)}\n\n${HELP['']}`);
  const flags = parseFlags(rest, FLAG_OPTIONS, help);
  if (flags.help === true) {
    ctx.stdout.write(help);
    return 0;
  }
  if (sub !== 'create' && flags.partitions !== undefined)
    throw new UsageError(`--partitions is an option of \`stream create\` only\n\n${help}`);
  if (flags.stream === undefined && !ctx.env.STREAMSINK_STREAM)
    throw new UsageError('--stream is required (or set STREAMSINK_STREAM)');
  return command(flags, ctx);
}

async function runCreate(flags: Flags, ctx: CliContext): Promise<number> {
  if (flags.partitions === undefined && !ctx.env.STREAMSINK_PARTITIONS)
    throw new UsageError('--partitions is required (or set STREAMSINK_PARTITIONS)');
  const config = parseStreamCreateConfig(
    flagsToEnv(ctx.env, flags, { stream: 'STREAMSINK_STREAM', partitions: 'STREAMSINK_PARTITIONS' }),
    { readFile: ctx.readFile, hostname: ctx.hostname },
  );
  const { redis, explain } = oneShotRedis(config.redis, `streamsink:stream:${ctx.hostname}`);
  try {
    const { created, layout } = await createPartitionedStream(
      redis,
      config.redis.keyPrefix,
      config.stream,
      config.partitions,
      Date.now(),
    );
    const keys = layout.kind === 'partitioned' ? layout.partitions : [];
    if (flags.json === true) {
      ctx.stdout.write(
        `${JSON.stringify({
          stream: config.stream,
          partitions: config.partitions,
          created,
          keys: keys.map((k) => ({ partition: k.partition, key: k.stream, slot: keyHashSlot(k.stream) })),
        })}\n`,
      );
    } else {
      ctx.stdout.write(
        `${created ? 'created' : 'already exists:'} stream ${config.stream} with ${config.partitions} partitions ` +
          `(${keys[0]?.stream ?? ''} .. ${keys[keys.length - 1]?.stream ?? ''})\n`,
      );
    }
    return 0;
  } catch (error) {
    throw explain(error);
  } finally {
    disconnectRedis(redis);
  }
}

async function runDescribe(flags: Flags, ctx: CliContext): Promise<number> {
  const config = parseStreamConfig(flagsToEnv(ctx.env, flags, { stream: 'STREAMSINK_STREAM' }), {
    readFile: ctx.readFile,
    hostname: ctx.hostname,
  });
  const { redis, explain } = oneShotRedis(config.redis, `streamsink:stream:${ctx.hostname}`);
  try {
    const description = await describeStream(redis, config.redis.keyPrefix, config.stream);
    ctx.stdout.write(
      flags.json === true ? `${JSON.stringify(description)}\n` : formatDescription(description),
    );
    return 0;
  } catch (error) {
    throw explain(error);
  } finally {
    disconnectRedis(redis);
  }
}

/** Pure: the text an operator reads. */
export function formatDescription(d: StreamDescription): string {
  const lines = [
    `stream        ${d.stream}`,
    `layout        ${d.partitioned ? `${d.partitions} partitions` : 'unpartitioned'}`,
  ];
  if (d.partitioned) {
    lines.push(`hash          ${d.hash} (partition = hash(key) mod ${d.partitions})`);
    lines.push(`tags          ${d.tags}`);
    lines.push(`created       ${d.createdAt ?? '-'}`);
    lines.push(`metadata      ${d.metaKey}`);
  }
  lines.push(`length        ${d.totals.length}`);
  lines.push(`dead letters  ${d.totals.deadLetter}`);
  const width = Math.max(3, ...d.parts.map((p) => p.key.length));
  lines.push(
    `  ${'P'.padStart(4)}  ${'KEY'.padEnd(width)}  ${'SLOT'.padStart(5)}  ${'LENGTH'.padStart(8)}  ${'DLQ'.padStart(6)}  GROUPS (pending/lag)`,
  );
  for (const p of d.parts) {
    const groups =
      p.groups.map((g) => `${g.name} (${g.pending}/${g.lag ?? '?'})`).join(', ') ||
      (p.exists ? '-' : '(no stream yet)');
    lines.push(
      `  ${String(p.partition ?? '-').padStart(4)}  ${p.key.padEnd(width)}  ${String(p.slot).padStart(5)}  ` +
        `${String(p.length).padStart(8)}  ${String(p.deadLetter).padStart(6)}  ${groups}`,
    );
  }
  return `${lines.join('\n')}\n`;
}
