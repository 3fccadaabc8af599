import { spawnSync } from 'node:child_process';
import { PassThrough, Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { CliContext } from '../../src/cli/context.ts';
import { main } from '../../src/cli/main.ts';
import type { AnyPipeline } from '../../src/consumers/define-pipeline.ts';
import { loadPipeline } from '../../src/consumers/pipeline-loader.ts';
import type { Envelope } from '../../src/lib/envelope.ts';
import { migrate } from '../../src/lib/migrations.ts';
import { uniqueName } from '../helpers/names.ts';
import { waitFor } from '../helpers/wait.ts';
import { createWorkerBench, type WorkerBench } from '../helpers/worker-harness.ts';

/**
 * Issue 14's "must show", on the real servers: a decide pipeline (test/fixtures/ledger-pipeline.ts) runs over
 * 10,000 events with a worker killed mid-run, then `streamsink replay` and an independent Python script check
 * the proofs the workers recorded, and `replay --into-schema` rebuilds the tables beside the live ones.
 */
const FIXTURE = fileURLToPath(new URL('../fixtures/ledger-pipeline.ts', import.meta.url));
const VERIFY = fileURLToPath(new URL('../../scripts/verify-proofs.py', import.meta.url));
const COUNT = 10_000;
const ACCOUNTS = 200;

interface Move {
  account: string;
  amountMinor: number;
}

function ledgerEvents(prefix: string): Array<Envelope<Move>> {
  let seed = 14;
  const next = () => {
    seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
    return seed;
  };
  const base = Date.parse('2026-12-01T00:00:00.000Z');
  return Array.from({ length: COUNT }, (_, i) => {
    const account = `a-${next() % ACCOUNTS}`;
    const amountMinor = (next() % 10_000) - 5_000 || 1;
    return {
      id: `${prefix}-${i}`,
      type: 'ledger.moved',
      v: 1,
      key: account,
      ts: new Date(base + i).toISOString(),
      data: { account, amountMinor },
    };
  });
}

/** What the ledger must hold, computed without streamsink. */
function expectedLedger(events: ReadonlyArray<Envelope<Move>>) {
  const rows = new Map<string, { balance: bigint; moves: number; largest: number; smallest: number }>();
  for (const { data } of events) {
    const r = rows.get(data.account);
    if (!r)
      rows.set(data.account, {
        balance: BigInt(data.amountMinor),
        moves: 1,
        largest: data.amountMinor,
        smallest: data.amountMinor,
      });
    else {
      r.balance += BigInt(data.amountMinor);
      r.moves += 1;
      r.largest = Math.max(r.largest, data.amountMinor);
      r.smallest = Math.min(r.smallest, data.amountMinor);
    }
  }
  return [...rows.entries()]
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([account, r]) => ({
      account,
      balance: String(r.balance),
      moves: String(r.moves),
      largest: String(r.largest),
      smallest: String(r.smallest),
    }));
}

function capture() {
  let text = '';
  return {
    stream: new Writable({
      write(chunk, _enc, cb) {
        text += chunk.toString();
        cb();
      },
    }),
    text: () => text,
  };
}

describe('replay and proof of a decide pipeline', () => {
  let bench: WorkerBench;
  let ledger: AnyPipeline;
  let events: Array<Envelope<Move>>;
  const shadows: string[] = [];

  async function cli(args: string[], env: Record<string, string> = {}) {
    const out = capture();
    const err = capture();
    const ctx: CliContext = {
      env: {
        REDIS_URL: bench.redisUrl,
        DATABASE_URL: bench.schema.url,
        STREAMSINK_KEY_PREFIX: bench.prefix,
        ...env,
      },
      stdin: new PassThrough(),
      stdout: out.stream,
      stderr: err.stream,
      interactive: false,
      hostname: 'test',
      readFile: () => '',
      signal: new AbortController().signal,
    };
    const code = await main(args, ctx);
    return { code, stdout: out.text(), stderr: err.text() };
  }

  async function replay(env: Record<string, string> = {}, extra: string[] = []) {
    const r = await cli(
      ['replay', '--pipeline', FIXTURE, '--stream', bench.streamName, '--json', ...extra],
      env,
    );
    expect(r.stderr).toBe('');
    return { code: r.code, report: JSON.parse(r.stdout) };
  }

  const applied = async () =>
    Number(
      (await bench.db.query("SELECT count(*) AS n FROM streamsink_inbox WHERE pipeline = 'ledger'")).rows[0]
        .n,
    );

  beforeAll(async () => {
    bench = await createWorkerBench(inject('redisUrl'), inject('databaseUrl'));
    ledger = await loadPipeline(FIXTURE, { cwd: process.cwd(), env: {}, builtIn: { currencies: ['EUR'] } });
    await migrate(bench.db, undefined, { pipelines: [ledger] });
    events = ledgerEvents(uniqueName('mv'));
    await bench.publish(events);

    // A worker process applies the first part, then is SIGKILLed with batches open inside their transactions
    // (the ledger table is locked under them); another worker reclaims its entries and applies the rest.
    const victim = bench.spawnWorker('victim', { STREAMSINK_BATCH_SIZE: '250' }, ['--pipeline', FIXTURE]);
    await waitFor(async () => (await applied()) >= 1000, {
      timeoutMs: 60_000,
      describe: () => victim.output(),
    });
    const locker = new pg.Client({ connectionString: bench.schema.url });
    await locker.connect();
    try {
      await locker.query('BEGIN');
      await locker.query('LOCK TABLE ledger IN EXCLUSIVE MODE');
      await waitFor(async () => {
        const { rows } = await locker.query(
          "SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database() AND application_name LIKE 'streamsink:victim%'",
        );
        return rows[0].n > 0;
      });
      expect(await bench.pendingOf('victim')).toBeGreaterThan(0);
      victim.child.kill('SIGKILL');
      expect((await victim.exited).signal).toBe('SIGKILL');
    } finally {
      await locker.query('COMMIT');
      await locker.end();
    }
    expect(await applied()).toBeLessThan(COUNT);
    const rescuer = await bench.startWorker({ consumer: 'rescuer', pipeline: ledger });
    await waitFor(async () => (await applied()) === COUNT && (await bench.pendingCount()) === 0, {
      timeoutMs: 120_000,
      describe: async () => `applied ${await applied()}, pending ${await bench.pendingCount()}`,
    });
    await rescuer.close();
  }, 300_000);

  afterAll(async () => {
    for (const s of shadows) await bench?.db.query(`DROP SCHEMA IF EXISTS "${s}" CASCADE`);
    await bench?.cleanup();
  });

  it('applied every event exactly once despite the crash', async () => {
    const { rows } = await bench.db.query(
      'SELECT account, balance_minor::text AS balance, moves::text AS moves, largest::text AS largest, smallest::text AS smallest FROM ledger ORDER BY account COLLATE "C"',
    );
    expect(rows).toEqual(expectedLedger(events));
  });

  it('replay reports every entry OK and exits 0', async () => {
    const { code, report } = await replay();
    expect(report.entries).toBe(COUNT);
    expect(report.counts.OK).toBe(COUNT);
    expect(report.failed).toBe(false);
    expect(code).toBe(0);
  });

  it('the same version with an edited decide: NONDETERMINISTIC for the affected events, exit 1', async () => {
    const affected = events.filter((e) => e.data.account.endsWith('7')).length;
    expect(affected).toBeGreaterThan(0);
    const { code, report } = await replay({ LEDGER_EDIT: '1' });
    expect(report.counts.NONDETERMINISTIC).toBe(affected);
    expect(report.counts.OK).toBe(COUNT - affected);
    expect(report.examples.NONDETERMINISTIC[0].eventId).toBe(
      events.find((e) => e.data.account.endsWith('7'))?.id,
    );
    expect(code).toBe(1);
  });

  it('a new version: VERSION_DRIFT for every entry, exit 0', async () => {
    const { code, report } = await replay({ LEDGER_VERSION: '2', LEDGER_EDIT: '1' });
    expect(report.counts.VERSION_DRIFT).toBe(COUNT);
    expect(code).toBe(0);
  });

  it('an independent Python script recomputes every stored proof from the documented format', async () => {
    const entries = (await bench.redis.xrange(bench.keys.stream, '-', '+')) as Array<[string, string[]]>;
    const byEntry = new Map(entries.map(([id, fields]) => [id, fields]));
    const { rows } = await bench.db.query(
      "SELECT entry_id, pipeline_version, encode(input_hash, 'hex') AS input_hash, encode(proof, 'hex') AS proof FROM streamsink_inbox WHERE pipeline = 'ledger'",
    );
    expect(rows).toHaveLength(COUNT);
    const records = rows.map((r) => {
      const f = byEntry.get(r.entry_id) as string[];
      const field = (name: string) => f[f.indexOf(name) + 1] as string;
      const data = JSON.parse(field('data')) as Move;
      // The ledger's rule as an auditor reads it in the pipeline's docs, not streamsink's code.
      const effects = [
        {
          table: 'ledger',
          key: { account: data.account },
          values: {
            balance_minor: data.amountMinor,
            moves: 1,
            largest: data.amountMinor,
            smallest: data.amountMinor,
          },
        },
      ];
      return {
        pipeline: `ledger@${r.pipeline_version}`,
        envelope: {
          id: field('id'),
          type: field('type'),
          v: Number(field('v')),
          key: field('key'),
          ts: field('ts'),
          data,
        },
        effects,
        input_hash: r.input_hash,
        proof: r.proof,
      };
    });
    const run = (lines: unknown[]) =>
      spawnSync('python3', [VERIFY], {
        input: lines.map((l) => JSON.stringify(l)).join('\n'),
        encoding: 'utf8',
      });
    const ok = run(records);
    expect(ok.stdout.trim().split('\n').at(-1)).toBe(`checked ${COUNT}, mismatched 0`);
    expect(ok.status).toBe(0);
    // And it can tell: one amount changed is one mismatch.
    const tampered = structuredClone(records);
    const first = tampered[0]?.effects[0];
    if (!first) throw new Error('no record');
    first.values.moves = 2;
    const bad = run(tampered);
    expect(bad.stdout.trim().split('\n').at(-1)).toBe(`checked ${COUNT}, mismatched 1`);
    expect(bad.status).toBe(1);
  });

  it('proof prints the recorded proof with its parts, recomputed from the entry', async () => {
    const id = events[42]?.id as string;
    const r = await cli([
      'proof',
      '--stream',
      bench.streamName,
      '--event-id',
      id,
      '--pipeline',
      FIXTURE,
      '--json',
    ]);
    expect(r.code).toBe(0);
    const [report] = JSON.parse(r.stdout);
    expect(report).toMatchObject({ eventId: id, label: 'ledger@1', inputMatches: true, proofMatches: true });
    expect(report.effectsCanonical).toContain('"table":"ledger"');
  });

  it('replay --into-schema: no differences on the correct run; exactly the row changed by hand after', async () => {
    const clean = uniqueName('shadow');
    shadows.push(clean);
    const first = await replay({}, ['--into-schema', clean]);
    expect(first.report.shadow.tables).toEqual([
      { table: 'ledger', missing: 0, extra: 0, different: 0, examples: [] },
    ]);
    expect(first.code).toBe(0);

    const account = events[7]?.data.account as string;
    await bench.db.query('UPDATE ledger SET balance_minor = balance_minor + 1 WHERE account = $1', [account]);
    const after = uniqueName('shadow');
    shadows.push(after);
    const second = await replay({}, ['--into-schema', after]);
    const [diff] = second.report.shadow.tables;
    expect(diff).toMatchObject({ table: 'ledger', missing: 0, extra: 0, different: 1 });
    expect(diff.examples).toHaveLength(1);
    expect(diff.examples[0].live.account).toBe(account);
    expect(BigInt(diff.examples[0].live.balance_minor) - BigInt(diff.examples[0].shadow.balance_minor)).toBe(
      1n,
    );
    expect(second.report.counts.OK).toBe(COUNT);
    expect(second.code).toBe(1);
  });
});
