import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { applyJsonPatch } from '../../scripts/deploy/json-patch.ts';
import { type FileReader, renderKustomization, rewriteImage } from '../../scripts/deploy/kustomize.ts';
import { strategicMerge } from '../../scripts/deploy/strategic-merge.ts';

const K8S = fileURLToPath(new URL('../../k8s', import.meta.url));

/** An in-memory tree: path -> file text; directories are implied by paths. */
function memory(files: Record<string, string>): FileReader {
  return {
    readFile: (p) => {
      const text = files[p];
      if (text === undefined) throw new Error(`ENOENT ${p}`);
      return text;
    },
    exists: (p) => p in files,
    isDirectory: (p) => Object.keys(files).some((f) => f.startsWith(`${p}/`)),
  };
}

const DEPLOYMENT = `apiVersion: apps/v1
kind: Deployment
metadata: {name: app}
spec:
  template:
    spec:
      containers:
        - name: a
          image: app:1.0.0
          env: [{name: A, value: "1"}, {name: B, value: "2"}, {name: C, value: "3"}]
          ports: [{containerPort: 1, name: p1}, {containerPort: 2, name: p2}]
        - name: b
          image: sidecar:2
`;

describe('offline kustomize renderer', () => {
  it('merges keyed lists as kubectl kustomize does: patch items first, then untouched base items', () => {
    // Expected output taken from `kubectl kustomize` (v5.5.0) on the same input.
    const files = memory({
      '/b/kustomization.yaml': 'resources: [d.yaml]',
      '/b/d.yaml': DEPLOYMENT,
      '/o/kustomization.yaml':
        'resources: [../b]\nnamespace: ns\npatches: [{path: p.yaml}]\nimages: [{name: app, newName: reg/app, newTag: "2.0.0"}]',
      '/o/p.yaml': `apiVersion: apps/v1
kind: Deployment
metadata: {name: app}
spec:
  template:
    spec:
      containers:
        - name: b
          image: sidecar:3
        - name: a
          env: [{name: C, value: "33"}, {name: N, value: new}, {name: A, value: "11"}]
          ports: [{containerPort: 2, name: p22}]
`,
    });
    const [d] = renderKustomization('/o', files);
    expect(d?.metadata.namespace).toBe('ns');
    const spec = ((d?.spec ?? {}) as { template: { spec: { containers: Record<string, unknown>[] } } })
      .template.spec;
    expect(spec.containers.map((c) => c.image)).toEqual(['sidecar:3', 'reg/app:2.0.0']);
    expect(spec.containers[1]?.env).toEqual([
      { name: 'C', value: '33' },
      { name: 'N', value: 'new' },
      { name: 'A', value: '11' },
      { name: 'B', value: '2' },
    ]);
    expect(spec.containers[1]?.ports).toEqual([
      { containerPort: 2, name: 'p22' },
      { containerPort: 1, name: 'p1' },
    ]);
  });

  it('applies JSON 6902 patches to the target only', () => {
    const files = memory({
      '/o/kustomization.yaml': `resources: [d.yaml]
patches:
  - target: {kind: Deployment, name: app}
    patch: |-
      - op: replace
        path: /spec/template/spec/containers/0/image
        value: app:9.9.9
      - op: remove
        path: /spec/template/spec/containers/1
      - op: add
        path: /spec/replicas
        value: 3`,
      '/o/d.yaml': DEPLOYMENT,
    });
    const [d] = renderKustomization('/o', files);
    expect(((d?.spec ?? {}) as { replicas?: number }).replicas).toBe(3);
    expect(JSON.stringify(d)).toContain('app:9.9.9');
    expect(JSON.stringify(d)).not.toContain('sidecar');
  });

  it('refuses kustomize features it does not implement, and patches that match nothing', () => {
    expect(() =>
      renderKustomization('/o', memory({ '/o/kustomization.yaml': 'resources: []\ncommonLabels: {a: b}' })),
    ).toThrow(/commonLabels.*not supported/);
    expect(() =>
      renderKustomization(
        '/o',
        memory({
          '/o/kustomization.yaml': 'resources: [d.yaml]\npatches: [{path: p.yaml}]',
          '/o/d.yaml': DEPLOYMENT,
          '/o/p.yaml': 'apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: other}\nspec: {}',
        }),
      ),
    ).toThrow(/matches nothing/);
  });

  it('replaces lists of custom resources whole, and deletes keys set to null', () => {
    const base = { apiVersion: 'keda.sh/v1alpha1', spec: { triggers: [{ a: 1 }, { b: 2 }], x: 1 } };
    expect(strategicMerge(base, { spec: { triggers: [{ c: 3 }], x: null } }, false)).toEqual({
      apiVersion: 'keda.sh/v1alpha1',
      spec: { triggers: [{ c: 3 }] },
    });
  });

  it('rewrites image references by name, keeping tags it does not override', () => {
    expect(rewriteImage('streamsink:0.1.0', [{ name: 'streamsink', newName: 'r/s' }])).toBe('r/s:0.1.0');
    expect(rewriteImage('streamsink:0.1.0', [{ name: 'streamsink', digest: 'sha256:ab' }])).toBe(
      'streamsink@sha256:ab',
    );
    expect(rewriteImage('localhost:5000/x:1', [{ name: 'localhost:5000/x', newTag: '2' }])).toBe(
      'localhost:5000/x:2',
    );
    expect(rewriteImage('other:1', [{ name: 'streamsink', newTag: '2' }])).toBe('other:1');
  });

  it('JSON patch: test op, escaped pointers, and errors on missing paths', () => {
    expect(applyJsonPatch({ 'a/b': 1 }, [{ op: 'replace', path: '/a~1b', value: 2 }])).toEqual({ 'a/b': 2 });
    expect(() => applyJsonPatch({ a: 1 }, [{ op: 'test', path: '/a', value: 2 }])).toThrow(/test failed/);
    expect(() => applyJsonPatch({ a: 1 }, [{ op: 'replace', path: '/b', value: 2 }])).toThrow(/not found/);
    expect(() => applyJsonPatch({ a: [] }, [{ op: 'move', path: '/a' }])).toThrow(/unsupported/);
  });

  it('renders the real overlays: namespace, registry image, prod CIDR egress', () => {
    const prod = renderKustomization(`${K8S}/overlays/prod`);
    expect(prod.every((o) => o.metadata.namespace === 'streamsink')).toBe(true);
    const text = JSON.stringify(prod);
    expect(text).toContain('registry.example.com/payments/streamsink:0.1.0');
    expect(text).toContain('10.40.0.0/28');
    const dev = renderKustomization(`${K8S}/overlays/dev`);
    expect(JSON.stringify(dev)).toContain('"STREAMSINK_MAX_IN_FLIGHT":"500"');
  });
});
