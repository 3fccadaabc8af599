import { type Finding, isPlainObject, type K8sObject, subjectOf } from './types.ts';

/**
 * A ScaledObject (or HPA) for a partitioned stream says the stream's partition count in the annotation
 * `streamsink.io/partitions` (docs/scaling.md#autoscaling). Ordered workers own whole partitions, so a replica
 * past the partition count would get none: maxReplicaCount (maxReplicas for an HPA) must not exceed it.
 */
export const PARTITIONS_ANNOTATION = 'streamsink.io/partitions';

export function checkPartitionCap(o: K8sObject): Finding[] {
  const annotations = isPlainObject(o.metadata.annotations) ? o.metadata.annotations : {};
  const raw = annotations[PARTITIONS_ANNOTATION];
  if (raw === undefined) return [];
  const subject = subjectOf(o);
  const path = `/metadata/annotations/${PARTITIONS_ANNOTATION.replace('/', '~1')}`;
  const partitions = typeof raw === 'string' && /^[1-9]\d{0,3}$/.test(raw) ? Number(raw) : Number.NaN;
  if (!(partitions >= 1 && partitions <= 1024))
    return [
      { subject, path, message: `must be the stream's partition count, 1-1024 (got ${JSON.stringify(raw)})` },
    ];
  const spec = isPlainObject(o.spec) ? o.spec : {};
  const field = o.kind === 'HorizontalPodAutoscaler' ? 'maxReplicas' : 'maxReplicaCount';
  const max = Number(spec[field]);
  if (!Number.isInteger(max))
    return [
      {
        subject,
        path: `/spec/${field}`,
        message: `must be set (at most ${partitions}, the partition count)`,
      },
    ];
  if (max > partitions)
    return [
      {
        subject,
        path: `/spec/${field}`,
        message: `${max} exceeds the stream's ${partitions} partitions (${PARTITIONS_ANNOTATION}): replicas past it would own no partition`,
      },
    ];
  return [];
}
