import { describe, expect, it } from 'vitest';
import { renderKustomization } from '../../scripts/deploy/kustomize.ts';
import { checkPartitionCap } from '../../scripts/deploy/partitions.ts';
import type { K8sObject } from '../../scripts/deploy/types.ts';
import { checkWiring } from '../../scripts/deploy/wiring.ts';

const scaled = (annotation: string | undefined, max: number | undefined): K8sObject => ({
  apiVersion: 'keda.sh/v1alpha1',
  kind: 'ScaledObject',
  metadata: {
    name: 'w',
    ...(annotation === undefined ? {} : { annotations: { 'streamsink.io/partitions': annotation } }),
  },
  spec: { minReplicaCount: 1, ...(max === undefined ? {} : { maxReplicaCount: max }), triggers: [] },
});

describe('maxReplicaCount <= partition count (streamsink.io/partitions)', () => {
  it('passes at or under P, and without the annotation (an unpartitioned stream)', () => {
    expect(checkPartitionCap(scaled('16', 16))).toEqual([]);
    expect(checkPartitionCap(scaled('16', 4))).toEqual([]);
    expect(checkPartitionCap(scaled(undefined, 500))).toEqual([]);
  });

  it('fails past P, on a missing maximum and on a bad annotation, through the wiring checks too', () => {
    expect(checkPartitionCap(scaled('16', 17))[0]?.message).toMatch(/17 exceeds the stream's 16 partitions/);
    expect(checkPartitionCap(scaled('16', undefined))[0]?.path).toBe('/spec/maxReplicaCount');
    for (const bad of ['0', 'sixteen', '2000', '08'])
      expect(checkPartitionCap(scaled(bad, 4))[0]?.message, bad).toMatch(/partition count, 1-1024/);
    expect(checkWiring([scaled('8', 12)]).map((f) => f.message)).toContainEqual(
      expect.stringMatching(/12 exceeds the stream's 8 partitions/),
    );
    const hpa: K8sObject = {
      apiVersion: 'autoscaling/v2',
      kind: 'HorizontalPodAutoscaler',
      metadata: { name: 'w', annotations: { 'streamsink.io/partitions': '4' } },
      spec: { maxReplicas: 6 },
    };
    expect(checkPartitionCap(hpa)[0]?.path).toBe('/spec/maxReplicas');
  });

  it('the shipped partitioned ScaledObject names its partition count and stays within it', () => {
    const objects = renderKustomization(
      new URL('../../k8s/autoscaling/keda-partitioned', import.meta.url).pathname,
    );
    const so = objects.find((o) => o.kind === 'ScaledObject') as K8sObject;
    expect(so.metadata.annotations).toHaveProperty(['streamsink.io/partitions']);
    expect(checkPartitionCap(so)).toEqual([]);
  });
});
