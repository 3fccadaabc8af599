import net from 'node:net';

/**
 * A fault-injecting TCP proxy for tests, in plain node:net: clients connect to `port` on 127.0.0.1 and are
 * piped to the target. It can cut every connection (and refuse new ones until restored), which is what a
 * network partition or a Redis restart looks like from a client, and it can delay every chunk in both
 * directions (a slow network), keeping the byte order of each direction.
 */
export interface TcpProxy {
  readonly host: string;
  readonly port: number;
  /** Destroy every open connection and refuse new ones until `restore()`. */
  cut(): void;
  /** Accept connections again. */
  restore(): void;
  /** Delay each chunk by `ms` in both directions; 0 turns it off. */
  setLatency(ms: number): void;
  /** Connections currently open through the proxy. */
  connectionCount(): number;
  /** Total connections accepted since start (refused ones not counted). */
  acceptedCount(): number;
  /** Stop listening and destroy every connection. Safe to call twice. */
  close(): Promise<void>;
}

export interface TcpProxyOptions {
  targetHost?: string;
  targetPort: number;
  /** Port to listen on; 0 (default) picks a free one. */
  listenPort?: number;
}

export async function startTcpProxy(options: TcpProxyOptions): Promise<TcpProxy> {
  const targetHost = options.targetHost ?? '127.0.0.1';
  const sockets = new Set<net.Socket>();
  const clients = new Set<net.Socket>();
  let isCut = false;
  let latencyMs = 0;
  let accepted = 0;
  let closed = false;

  // Each direction has its own queue so delayed chunks keep their order even when the latency changes.
  const pipeDelayed = (from: net.Socket, to: net.Socket): void => {
    let tail = Promise.resolve();
    from.on('data', (chunk: Buffer) => {
      const delay = latencyMs;
      if (delay <= 0) {
        tail = tail.then(() => {
          if (!to.destroyed) to.write(chunk);
        });
        return;
      }
      from.pause();
      tail = tail
        .then(() => new Promise<void>((r) => setTimeout(r, delay)))
        .then(() => {
          if (!to.destroyed) to.write(chunk);
          if (!from.destroyed) from.resume();
        });
    });
    from.on('end', () => {
      tail = tail.then(() => {
        if (!to.destroyed) to.end();
      });
    });
  };

  const server = net.createServer((client) => {
    if (isCut || closed) {
      client.destroy();
      return;
    }
    accepted++;
    const upstream = net.connect({ host: targetHost, port: options.targetPort });
    sockets.add(client);
    sockets.add(upstream);
    clients.add(client);
    const teardown = () => {
      client.destroy();
      upstream.destroy();
      clients.delete(client);
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('error', teardown);
    upstream.on('error', teardown);
    client.on('close', teardown);
    upstream.on('close', teardown);
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    pipeDelayed(client, upstream);
    pipeDelayed(upstream, client);
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.listenPort ?? 0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('proxy has no TCP address');

  const destroyAll = () => {
    for (const s of sockets) s.destroy();
    sockets.clear();
    clients.clear();
  };

  return {
    host: '127.0.0.1',
    port: address.port,
    cut() {
      isCut = true;
      destroyAll();
    },
    restore() {
      isCut = false;
    },
    setLatency(ms: number) {
      latencyMs = Math.max(0, ms);
    },
    connectionCount: () => clients.size,
    acceptedCount: () => accepted,
    async close() {
      if (closed) return;
      closed = true;
      destroyAll();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
