import { encodeDeadLetter } from '../lib/dead-letter-entry.ts';
import type { RedisClient as Redis } from '../lib/redis/client.ts';
import type { StreamKeys } from '../lib/redis/keys.ts';
import { loadLuaScript } from '../lib/redis/script-loader.ts';
import { entryIdTime } from '../lib/redis/stream-ids.ts';
import { isNoGroupError } from './stream-client.ts';
import type { DeadLetterer, DeadLetterResult } from './types.ts';

const SCRIPT = loadLuaScript(new URL('./dead-letter.lua', import.meta.url));

/** Records per script call, and a byte budget per call, so one call never blocks Redis for long. */
const MAX_RECORDS_PER_CALL = 100;
const MAX_BYTES_PER_CALL = 8 * 1024 * 1024;

export interface CreateDeadLettererOptions {
  redis: Redis;
  keys: StreamKeys;
  group: string;
  consumer: string;
  pipelineName: string;
  pipelineVersion: string;
  /** Clock for `dlq.dead_lettered_at`, in epoch milliseconds. */
  now?: () => number;
}

/**
 * The dead-letterer of one stream and group. Each record is moved by one atomic script step (XPENDING check,
 * XADD to the dead-letter stream, XACK on the source), so a crash leaves every entry either pending on the
 * source or in the dead-letter stream and acknowledged, and calling again with the same records after a lost
 * reply adds nothing. A missing group (NOGROUP) moves nothing: those records come back as `group_gone`, as do
 * records the group has not delivered since it was recreated. Other errors (Redis down) are thrown: the
 * entries stay pending and come back.
 * The original fields are copied by the script from the source entry, so bytes that are not UTF-8 survive.
 */
export function createDeadLetterer(options: CreateDeadLettererOptions): DeadLetterer {
  const { redis, keys, group, consumer, pipelineName, pipelineVersion } = options;
  const now = options.now ?? Date.now;

  return {
    async deadLetter(records) {
      const result: DeadLetterResult = { moved: 0, skipped: 0, statuses: [] };
      const statuses = result.statuses as NonNullable<DeadLetterResult['statuses']>;
      let groupGone = false;
      const deadLetteredAt = new Date(now()).toISOString();
      let args: string[] = [group];
      let inCall = 0;
      let bytes = 0;
      const flush = async () => {
        if (inCall === 0) return;
        let reply: Array<number | string> = [];
        if (!groupGone) {
          try {
            reply = (await SCRIPT.run(redis, [keys.stream, keys.deadLetter], args)) as Array<number | string>;
          } catch (error) {
            // The script fails on its first XPENDING, before writing anything; later calls would too.
            if (!isNoGroupError(error)) throw error;
            groupGone = true;
          }
        }
        for (let i = 0; i < inCall; i++) {
          const status = groupGone ? 2 : Number(reply[2 * i]);
          if (status === 1) {
            result.moved += 1;
            statuses.push('moved');
          } else if (status === 0) {
            result.skipped += 1;
            statuses.push('skipped');
          } else statuses.push('group_gone');
        }
        args = [group];
        inCall = 0;
        bytes = 0;
      };
      for (const record of records) {
        const fields = encodeDeadLetter(
          {
            sourceStream: keys.stream,
            sourceId: record.entry.id,
            group,
            consumer,
            reason: record.reason,
            errorClass: record.errorClass,
            errorMessage: record.errorMessage,
            deliveryCount: record.entry.deliveryCount,
            firstSeen: entryIdTime(record.entry.id) ?? '',
            deadLetteredAt,
            pipeline: pipelineName,
            pipelineVersion,
            ...(record.eventType === undefined ? {} : { eventType: record.eventType }),
            ...(record.eventId === undefined ? {} : { eventId: record.eventId }),
          },
          record.entry.fields,
        );
        const size = fields.reduce((n, f) => n + f.length, 0);
        if (inCall > 0 && (inCall >= MAX_RECORDS_PER_CALL || bytes + size > MAX_BYTES_PER_CALL))
          await flush();
        args.push(record.entry.id, String(fields.length), String(headerLength(fields)), ...fields);
        inCall += 1;
        bytes += size;
      }
      await flush();
      return result;
    },
  };
}

/**
 * Items of the dlq.* header, up to and including the value of `dlq.original_fields` (always the last header
 * field). The script copies the original items after it from the source entry itself.
 */
export function headerLength(fields: readonly string[]): number {
  for (let i = 0; i + 1 < fields.length; i += 2) if (fields[i] === 'dlq.original_fields') return i + 2;
  return fields.length;
}
