import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { applyJsonPatch, type JsonPatchOp } from '../../scripts/deploy/json-patch.ts';
import { renderKustomization } from '../../scripts/deploy/kustomize.ts';
import { validateAll, validateObject } from '../../scripts/deploy/schema.ts';
import type { K8sObject } from '../../scripts/deploy/types.ts';

const objects = renderKustomization(fileURLToPath(new URL('../../k8s/overlays/prod', import.meta.url)));
const hpa = renderKustomization(fileURLToPath(new URL('../../k8s/autoscaling/hpa', import.meta.url)));
const find = (kind: string) => {
  const o = [...objects, ...hpa].find((x) => x.kind === kind);
  if (!o) throw new Error(`no ${kind}`);
  return o;
};
const broken = (kind: string, ops: JsonPatchOp[]) => applyJsonPatch(find(kind), ops) as K8sObject;
const C = '/spec/template/spec/containers/0';

describe('schema validation of rendered manifests', () => {
  it('accepts every object the overlays and the HPA render', async () => {
    expect(await validateAll([...objects, ...hpa])).toEqual([]);
  });

  it('reports a typo in a field name, which the Kubernetes schema alone would accept', async () => {
    const d = broken('Deployment', [
      { op: 'add', path: `${C}/securityContext/readOnlyRootFilesystm`, value: true },
      { op: 'add', path: '/spec/template/spec/terminationGracePeriodSecond', value: 35 },
    ]);
    const findings = await validateObject(d);
    expect(findings.map((f) => f.path).sort()).toEqual([
      `${C}/securityContext/readOnlyRootFilesystm`,
      '/spec/template/spec/terminationGracePeriodSecond',
    ]);
    expect(findings[0]?.message).toMatch(/unknown field/);
  });

  it('reports a wrong type', async () => {
    const d = broken('Deployment', [{ op: 'add', path: '/spec/replicas', value: 'three' }]);
    expect((await validateObject(d))[0]?.message).toMatch(/replicas must be integer/);
    const p = broken('Deployment', [{ op: 'replace', path: `${C}/ports/0/containerPort`, value: '9464' }]);
    expect((await validateObject(p))[0]?.message).toMatch(/containerPort must be integer/);
  });

  it('checks KEDA, HPA and ServiceMonitor objects too', async () => {
    const so = broken('ScaledObject', [{ op: 'add', path: '/spec/maxReplicaCont', value: 3 }]);
    expect((await validateObject(so))[0]?.path).toBe('/spec/maxReplicaCont');
    const h = broken('HorizontalPodAutoscaler', [{ op: 'replace', path: '/spec/maxReplicas', value: '12' }]);
    expect((await validateObject(h))[0]?.message).toMatch(/integer/);
    const sm = broken('ServiceMonitor', [
      { op: 'add', path: '/spec/endpoints/0/intervall', value: '15s' },
      { op: 'replace', path: '/spec/endpoints/0/interval', value: 15 },
    ]);
    expect((await validateObject(sm)).map((f) => f.path).sort()).toEqual([
      '/spec/endpoints/0/interval',
      '/spec/endpoints/0/intervall',
    ]);
  });

  it('refuses kinds it has no schema for', async () => {
    const o: K8sObject = { apiVersion: 'example.com/v1', kind: 'Widget', metadata: { name: 'w' } };
    expect((await validateObject(o))[0]?.message).toMatch(/no schema/);
  });
});
