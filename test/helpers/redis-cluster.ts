import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { portOpen } from './servers.ts';
import { freePort } from './servers-own.ts';
import { waitFor } from './wait.ts';

/**
 * A real Redis Cluster owned by one test file: N masters (default 3, no replicas) on free loopback ports, each
 * in its own directory under one temp dir, joined with `redis-cli --cluster create`. Stopped by PID, never by
 * name; `stop()` removes the temp dir. Needs `redis-server` and `redis-cli` (Debian: redis-server, redis-tools).
 */

const run = promisify(execFile);

export interface ClusterNode {
  readonly host: string;
  readonly port: number;
  pid(): number | undefined;
}

export interface OwnRedisCluster {
  readonly nodes: readonly ClusterNode[];
  /** `host:port,host:port,...`: the value of REDIS_CLUSTER_NODES. */
  readonly nodesEnv: string;
  /** Run one command on one node with redis-cli; returns its stdout, trimmed. */
  cli(node: ClusterNode, ...args: string[]): Promise<string>;
  /** The node that serves `slot` now, asked of the first node. */
  ownerOf(slot: number): Promise<ClusterNode>;
  /**
   * Move one slot from its owner to `to` the way `redis-cli --cluster reshard` does: SETSLOT IMPORTING on the
   * target, MIGRATING on the source, MIGRATE the keys in batches, then SETSLOT NODE everywhere. While keys are
   * moving, clients see ASK; afterwards, MOVED. `betweenBatches` runs after each MIGRATE batch (tests publish
   * there so writes land in the middle of the move).
   */
  migrateSlot(
    slot: number,
    to: ClusterNode,
    options?: { batch?: number; betweenBatches?: () => Promise<void> },
  ): Promise<{ moved: number }>;
  /** Kill every node and remove the temp dir. Safe to call twice. */
  stop(): Promise<void>;
}

export async function startRedisCluster(options: { masters?: number } = {}): Promise<OwnRedisCluster> {
  const masters = options.masters ?? 3;
  const root = mkdtempSync(path.join(os.tmpdir(), 'streamsink-cluster-'));
  const children: ChildProcess[] = [];
  const nodes: ClusterNode[] = [];
  let stopped = false;

  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await Promise.all(
      children.map(async (child) => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
        child.kill('SIGKILL');
        await exited;
      }),
    );
    rmSync(root, { recursive: true, force: true });
  };

  try {
    for (let i = 0; i < masters; i++) {
      const port = await freePort();
      const busPort = await freePort();
      const dir = path.join(root, `node-${i}`);
      await run('mkdir', ['-p', dir]);
      const child = spawn(
        'redis-server',
        [
          '--bind',
          '127.0.0.1',
          '--port',
          String(port),
          '--cluster-enabled',
          'yes',
          '--cluster-port',
          String(busPort),
          '--cluster-config-file',
          path.join(dir, 'nodes.conf'),
          '--cluster-node-timeout',
          '5000',
          '--dir',
          dir,
          '--save',
          '',
          '--appendonly',
          'no',
          '--daemonize',
          'no',
          '--logfile',
          path.join(dir, 'redis.log'),
        ],
        { stdio: 'ignore' },
      );
      child.once('error', () => {});
      children.push(child);
      nodes.push({ host: '127.0.0.1', port, pid: () => child.pid });
      await waitFor(
        async () => {
          if (child.exitCode !== null) throw new Error(`redis-server exited with ${child.exitCode}`);
          return portOpen('127.0.0.1', port, 200);
        },
        { timeoutMs: 20_000, describe: () => tail(path.join(dir, 'redis.log')) },
      );
    }
    await run('redis-cli', [
      '--cluster',
      'create',
      ...nodes.map((n) => `${n.host}:${n.port}`),
      '--cluster-replicas',
      '0',
      '--cluster-yes',
    ]);
    for (const node of nodes) {
      await waitFor(async () => (await cli(node, 'CLUSTER', 'INFO')).includes('cluster_state:ok'), {
        timeoutMs: 30_000,
        describe: () => cli(node, 'CLUSTER', 'INFO'),
      });
    }
    // Every node must agree on every slot's owner before a client's first CLUSTER SLOTS is trusted.
    await waitFor(
      async () => {
        const views = await Promise.all(nodes.map((n) => cli(n, 'CLUSTER', 'SLOTS')));
        return views.every((v) => v === views[0]);
      },
      { timeoutMs: 30_000 },
    );
  } catch (error) {
    await stop();
    throw error;
  }

  async function cli(node: ClusterNode, ...args: string[]): Promise<string> {
    const { stdout } = await run('redis-cli', ['-h', node.host, '-p', String(node.port), ...args]);
    return stdout.trim();
  }

  async function nodeId(node: ClusterNode): Promise<string> {
    return cli(node, 'CLUSTER', 'MYID');
  }

  async function ownerOf(slot: number): Promise<ClusterNode> {
    for (const node of nodes) {
      const owner = await findOwner(node, slot);
      if (owner) return owner;
    }
    throw new Error(`no node serves slot ${slot}`);
  }

  async function findOwner(asked: ClusterNode, slot: number): Promise<ClusterNode | undefined> {
    const lines = (await cli(asked, 'CLUSTER', 'NODES')).split('\n');
    for (const line of lines) {
      const fields = line.split(' ');
      const address = fields[1]?.split('@')[0];
      const ranges = fields.slice(8);
      for (const range of ranges) {
        if (range.startsWith('[')) continue;
        const [a, b] = range.split('-').map(Number) as [number, number | undefined];
        if (slot >= a && slot <= (b ?? a)) return nodes.find((n) => `${n.host}:${n.port}` === address);
      }
    }
    return undefined;
  }

  async function migrateSlot(
    slot: number,
    to: ClusterNode,
    opts: { batch?: number; betweenBatches?: () => Promise<void> } = {},
  ): Promise<{ moved: number }> {
    const from = await ownerOf(slot);
    if (from === to) throw new Error(`slot ${slot} is already on ${to.port}`);
    const [fromId, toId] = await Promise.all([nodeId(from), nodeId(to)]);
    await cli(to, 'CLUSTER', 'SETSLOT', String(slot), 'IMPORTING', fromId);
    await cli(from, 'CLUSTER', 'SETSLOT', String(slot), 'MIGRATING', toId);
    let moved = 0;
    for (;;) {
      const keys = (await cli(from, 'CLUSTER', 'GETKEYSINSLOT', String(slot), String(opts.batch ?? 1)))
        .split('\n')
        .filter((k) => k !== '');
      if (keys.length === 0) break;
      const out = await cli(from, 'MIGRATE', to.host, String(to.port), '', '0', '5000', 'KEYS', ...keys);
      if (out !== 'OK' && out !== 'NOKEY') throw new Error(`MIGRATE failed: ${out}`);
      moved += keys.length;
      await opts.betweenBatches?.();
    }
    // The target first, then the source, then the rest (the order redis-cli uses), so no node answers ASK
    // or MOVED with a stale owner after the slot is settled.
    await cli(to, 'CLUSTER', 'SETSLOT', String(slot), 'NODE', toId);
    await cli(from, 'CLUSTER', 'SETSLOT', String(slot), 'NODE', toId);
    for (const node of nodes) {
      if (node !== to && node !== from) await cli(node, 'CLUSTER', 'SETSLOT', String(slot), 'NODE', toId);
    }
    return { moved };
  }

  return {
    nodes,
    nodesEnv: nodes.map((n) => `${n.host}:${n.port}`).join(','),
    cli,
    ownerOf,
    migrateSlot,
    stop,
  };
}

function tail(file: string): string {
  try {
    return readFileSync(file, 'utf8').split('\n').slice(-10).join('\n');
  } catch {
    return '';
  }
}
