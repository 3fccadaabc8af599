/**
 * The plain batched worker the issue measures streamsink against (issue 16): no framework, no inbox, no
 * dead letters, no metrics. Run as a child process by bench/worker.ts:
 *
 *   node bench/reference-worker.ts <redis-url> <database-url> <stream-key> <group> <consumer> <in-flight>
 *
 * Each of `in-flight` loops: XREADGROUP COUNT 500 -> fold duplicate event ids (first wins) -> one multi-row
 * `unnest` upsert into event_log (the rows the event-log pipeline writes) -> one XACK for the batch. It exits
 * on SIGTERM after its batches finish. It decodes entries with JSON.parse only: malformed input is not its job.
 */
import { Redis } from 'ioredis';
import pg from 'pg';

function arg(i: number, name: string): string {
  const value = process.argv[2 + i];
  if (!value) throw new Error(`reference-worker.ts: missing <${name}> (argument ${i + 1})`);
  return value;
}
const redisUrl = arg(0, 'redis-url');
const databaseUrl = arg(1, 'database-url');
const key = arg(2, 'stream-key');
const group = arg(3, 'group');
const consumer = arg(4, 'consumer');
const inFlightArg = process.argv[7];
const inFlight = Number(inFlightArg ?? '2');
const BATCH = 500;

const UPSERT = `
INSERT INTO event_log (stream, event_id, entry_id, type, v, key, occurred_at, payload)
SELECT $1, t.id, t.entry, t.type, t.v, t.key, t.ts, t.data
FROM unnest($2::text[], $3::text[], $4::text[], $5::int[], $6::text[], $7::timestamptz[], $8::jsonb[])
  AS t(id, entry, type, v, key, ts, data)
ON CONFLICT (stream, event_id) DO NOTHING`;

let stopping = false;
process.on('SIGTERM', () => {
  stopping = true;
});

type Entry = [string, string[]];

function field(fields: string[], name: string): string {
  for (let i = 0; i < fields.length; i += 2) if (fields[i] === name) return fields[i + 1] as string;
  return '';
}

async function loop(redis: Redis, db: pg.Client): Promise<void> {
  while (!stopping) {
    const reply = (await redis.xreadgroup(
      'GROUP',
      group,
      consumer,
      'COUNT',
      BATCH,
      'BLOCK',
      100,
      'STREAMS',
      key,
      '>',
    )) as Array<[string, Entry[]]> | null;
    const entries = reply?.[0]?.[1] ?? [];
    if (entries.length === 0) continue;
    const seen = new Set<string>();
    const cols: [string[], string[], string[], number[], string[], string[], string[]] = [
      [],
      [],
      [],
      [],
      [],
      [],
      [],
    ];
    for (const [entryId, fields] of entries) {
      const id = field(fields, 'id');
      if (seen.has(id)) continue;
      seen.add(id);
      cols[0].push(id);
      cols[1].push(entryId);
      cols[2].push(field(fields, 'type'));
      cols[3].push(Number(field(fields, 'v')));
      cols[4].push(field(fields, 'key'));
      cols[5].push(field(fields, 'ts'));
      cols[6].push(field(fields, 'data'));
    }
    await db.query({ name: 'reference-upsert', text: UPSERT, values: [key, ...cols] });
    await redis.xack(key, group, ...entries.map((e) => e[0]));
  }
}

const loops = Array.from({ length: inFlight }, async () => {
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: null });
  const db = new pg.Client({ connectionString: databaseUrl, application_name: `streamsink:${consumer}` });
  await db.connect();
  try {
    await loop(redis, db);
  } finally {
    await db.end();
    redis.disconnect();
  }
});
await Promise.all(loops);
