import http from 'node:http';

/**
 * A test HTTP service on 127.0.0.1 (node:http): `GET /score/<id>` answers `{"id": ..., "score": n}` where n
 * is derived from the id, so a test knows what enrichment each event must carry. Faults are chosen per call
 * by `fault(callNumber, id)`: `'503'`, `'hang'` (never answers; the socket stays open until the client
 * aborts), `'reset'` (socket destroyed: connection refused/reset, as a service that is down), `'422'` (a
 * permanent refusal), or `'ok'`.
 */
export type Fault = 'ok' | '503' | 'hang' | 'reset' | '422';

export interface FlakyService {
  readonly url: string;
  /** Calls received, by outcome served. */
  readonly served: Record<Fault, number>;
  /** Calls received that answered 200, by id. */
  readonly okById: Map<string, number>;
  setFault(fault: (call: number, id: string) => Fault): void;
  close(): Promise<void>;
}

export function scoreOf(id: string): number {
  let h = 0;
  for (const c of id) h = (h * 31 + c.charCodeAt(0)) % 1000;
  return h;
}

export async function startFlakyService(fault: (call: number, id: string) => Fault): Promise<FlakyService> {
  let pick = fault;
  let calls = 0;
  const served: Record<Fault, number> = { ok: 0, '503': 0, hang: 0, reset: 0, '422': 0 };
  const okById = new Map<string, number>();
  const hanging = new Set<http.ServerResponse>();
  const server = http.createServer((req, res) => {
    const id = decodeURIComponent((req.url ?? '').replace(/^\/score\//, ''));
    const f = pick(calls++, id);
    served[f]++;
    if (f === 'hang') {
      hanging.add(res);
      res.on('close', () => hanging.delete(res));
      return;
    }
    if (f === 'reset') {
      req.socket.destroy();
      return;
    }
    if (f === '503' || f === '422') {
      res.writeHead(Number(f), { 'content-type': 'application/json' });
      res.end('{"error":"no"}');
      return;
    }
    okById.set(id, (okById.get(id) ?? 0) + 1);
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ id, score: scoreOf(id) }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no address');
  return {
    url: `http://127.0.0.1:${address.port}`,
    served,
    okById,
    setFault(next) {
      pick = next;
    },
    async close() {
      for (const res of hanging) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
