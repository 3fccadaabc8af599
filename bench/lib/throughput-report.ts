/** One variant's run of bench/worker.ts. */
export interface Measured {
  variant: string;
  events: number;
  seconds: number;
  /** CPU of the worker process(es) over the run. */
  cpuMicros: number;
  /** CPU of the Postgres backends serving the variant, when Postgres runs on this machine. */
  pgCpuMicros: number | undefined;
  /** CPU of the Redis server over the run, when it runs on this machine (other clients of it count too). */
  redisCpuMicros?: number | undefined;
}

export interface ThroughputRow {
  name: string;
  variant: string;
  events: number;
  seconds: number;
  msgsPerSecond: number;
  vsBullmq: number | null;
  vsReference: number | null;
  cpuMicrosPerMessage: number;
  postgresCpuMicrosPerMessage: number | null;
  redisCpuMicrosPerMessage: number | null;
}

const perMessage = (micros: number | undefined, events: number) =>
  micros === undefined ? null : Number((micros / events).toFixed(1));

/**
 * Ratios of two variants round by round: the repeated variants run interleaved, so the i-th run of each
 * shares the machine's state of that moment, and the spread of these says how far one run's ratio can be
 * trusted on a machine whose speed drifts. `a` may name several variants: the best of them in each round.
 * Pure.
 */
export function roundRatios(
  perRound: ReadonlyMap<string, readonly Measured[]>,
  a: readonly string[],
  b: string,
): number[] {
  const rate = (m: Measured) => m.events / m.seconds;
  const bs = perRound.get(b) ?? [];
  const out: number[] = [];
  for (let i = 0; i < bs.length; i++) {
    const best = Math.max(
      0,
      ...a.map((name) => {
        const m = perRound.get(name)?.[i];
        return m ? rate(m) : 0;
      }),
    );
    if (best > 0) out.push(best / rate(bs[i] as Measured));
  }
  return out;
}

/** The table bench/worker.ts prints, and the ratios the performance targets are stated in (docs/performance.md). */
export function throughputReport(
  events: number,
  rounds: number,
  results: ReadonlyMap<string, Measured>,
  perRound: ReadonlyMap<string, readonly Measured[]> = new Map(),
): { json: unknown; text: string; rows: ThroughputRow[] } {
  const rate = (name: string) => {
    const r = results.get(name);
    return r ? r.events / r.seconds : undefined;
  };
  const bull = rate('bullmq');
  const reference = rate('reference');
  const ratio = (a: number, b: number | undefined) => (b ? Number((a / b).toFixed(2)) : null);
  const rows: ThroughputRow[] = [...results.entries()].map(([name, r]) => {
    const msgs = r.events / r.seconds;
    return {
      name,
      variant: r.variant,
      events: r.events,
      seconds: Number(r.seconds.toFixed(3)),
      msgsPerSecond: Math.round(msgs),
      vsBullmq: ratio(msgs, bull),
      vsReference: ratio(msgs, reference),
      cpuMicrosPerMessage: Number((r.cpuMicros / r.events).toFixed(1)),
      postgresCpuMicrosPerMessage: perMessage(r.pgCpuMicros, r.events),
      redisCpuMicrosPerMessage: perMessage(r.redisCpuMicros, r.events),
    };
  });
  const targets: string[] = [];
  const byRound: Record<string, number[]> = {};
  // "; by round 0.97x 1.06x 0.93x" when the pair ran more than once.
  const spread = (label: string, a: readonly string[], b: string) => {
    const ratios = roundRatios(perRound, a, b);
    if (ratios.length < 2) return '';
    byRound[label] = ratios.map((r) => Number(r.toFixed(2)));
    return `; by round ${ratios.map((r) => `${r.toFixed(2)}x`).join(' ')}`;
  };
  const one = rate('streamsink-1');
  const two = rate('streamsink-2');
  const best = Math.max(one ?? 0, two ?? 0) || undefined;
  if (best && reference)
    targets.push(
      `event-log vs batched reference: ${(best / reference).toFixed(2)}x (target >= 0.9x)` +
        spread('event-log vs reference', ['streamsink-1', 'streamsink-2'], 'reference'),
    );
  if (best && bull) targets.push(`event-log vs BullMQ: ${(best / bull).toFixed(1)}x (target >= 15x)`);
  const payments = rate('payments-decide');
  if (payments && one)
    targets.push(
      `payments vs event-log, one worker: ${(payments / one).toFixed(2)}x (target >= 0.7x)` +
        spread('payments vs event-log', ['payments-decide'], 'streamsink-1'),
    );
  const apply = rate('payments-apply');
  if (payments && apply)
    targets.push(
      `payments decide vs its SQL apply form: ${(payments / apply).toFixed(2)}x (target >= 0.9x)` +
        spread('decide vs apply', ['payments-decide'], 'payments-apply'),
    );
  if (one && two)
    targets.push(
      `two workers vs one: ${(two / one).toFixed(2)}x (target >= 1.0x)` +
        spread('two workers vs one', ['streamsink-2'], 'streamsink-1'),
    );

  const head = [
    'variant',
    'events',
    'seconds',
    'msgs/s',
    'vs BullMQ',
    'vs reference',
    'worker µs/msg',
    'PG µs/msg',
    'Redis µs/msg',
  ];
  const cell = (v: number | null, digits: number, suffix = '') =>
    v === null ? '-' : `${v.toFixed(digits)}${suffix}`;
  const table = rows.map((r) => [
    r.variant,
    String(r.events),
    r.seconds.toFixed(2),
    String(r.msgsPerSecond),
    cell(r.vsBullmq, 1, 'x'),
    cell(r.vsReference, 2, 'x'),
    r.cpuMicrosPerMessage.toFixed(1),
    cell(r.postgresCpuMicrosPerMessage, 1),
    cell(r.redisCpuMicrosPerMessage, 1),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...table.map((row) => (row[i] as string).length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === 0 ? c.padEnd(widths[i] as number) : c.padStart(widths[i] as number)))
      .join('  ');
  const text =
    `\n${events} events per variant, end to end (preloaded stream -> committed -> acked)\n` +
    `${line(head)}\n${table.map(line).join('\n')}\n` +
    `${targets.map((t) => `  ${t}`).join('\n')}\n` +
    `Repeated variants: median of ${rounds} interleaved round(s), each from all processes reading to the last ack;\n` +
    '"by round": the same ratio within each round (the variants of a round ran one after another).\n' +
    'CPU per message: user+system of the worker process(es), of the Postgres backends serving them, and of the\n' +
    'Redis server (the whole server: on a quiet machine, the variant). Worker settings: defaults unless STREAMSINK_* set.\n';
  return { json: { events, rounds, results: rows, targets, byRound }, text, rows };
}
