import { Counter, Gauge, type Registry } from 'prom-client';

/** Metrics of ordered consumption of partitioned streams (docs/metrics.md#partitions), on the caller's registry. */
export interface PartitionMetrics {
  /** 1 for each partition this worker owns (lease held, epoch taken); 0 once it no longer does. */
  owned: Gauge<'stream' | 'group' | 'partition'>;
  /** The fencing epoch this worker holds for the partition (0 when not owned). */
  epoch: Gauge<'stream' | 'group' | 'partition'>;
  /** Entries of an owned partition not yet delivered to the group (XINFO GROUPS lag). */
  lag: Gauge<'stream' | 'group' | 'partition'>;
  leaseRenewals: Counter<'stream' | 'group'>;
  /** Partitions lost without handing them over: `expired` (renewal refused), `fenced` (epoch check). */
  leaseLosses: Counter<'stream' | 'group' | 'reason'>;
  /** Times this worker's assigned set changed (a member joined or left). */
  rebalances: Counter<'stream' | 'group'>;
  /** Partitions acquired and handed over (cooperatively released). */
  handovers: Counter<'stream' | 'group' | 'direction'>;
}

export function createPartitionMetrics(registry: Registry): PartitionMetrics {
  const registers = [registry];
  const partitionLabels = ['stream', 'group', 'partition'] as const;
  return {
    owned: new Gauge({
      name: 'streamsink_partition_owned',
      help: '1 while this worker owns the partition (ordered mode)',
      labelNames: partitionLabels,
      registers,
    }),
    epoch: new Gauge({
      name: 'streamsink_partition_epoch',
      help: 'Fencing epoch this worker holds for the partition; 0 when not owned',
      labelNames: partitionLabels,
      registers,
    }),
    lag: new Gauge({
      name: 'streamsink_partition_lag_messages',
      help: 'Entries of an owned partition not yet delivered to the group',
      labelNames: partitionLabels,
      registers,
    }),
    leaseRenewals: new Counter({
      name: 'streamsink_partition_lease_renewals_total',
      help: 'Partition lease renewals that succeeded',
      labelNames: ['stream', 'group'],
      registers,
    }),
    leaseLosses: new Counter({
      name: 'streamsink_partition_lease_losses_total',
      help: 'Partitions lost without a handover (lease expired or fenced)',
      labelNames: ['stream', 'group', 'reason'],
      registers,
    }),
    rebalances: new Counter({
      name: 'streamsink_partition_rebalances_total',
      help: "Times this worker's assigned partitions changed",
      labelNames: ['stream', 'group'],
      registers,
    }),
    handovers: new Counter({
      name: 'streamsink_partition_handovers_total',
      help: 'Partitions acquired (in) and released cooperatively (out)',
      labelNames: ['stream', 'group', 'direction'],
      registers,
    }),
  };
}
