import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { applyJsonPatch, type JsonPatchOp } from '../../scripts/deploy/json-patch.ts';
import { renderKustomization } from '../../scripts/deploy/kustomize.ts';
import { minHeapCapBytes, minMemoryLimitBytes, workerRssBytes } from '../../scripts/deploy/memory.ts';
import { checkPodSecurity, checkWorkers } from '../../scripts/deploy/security.ts';
import type { K8sObject } from '../../scripts/deploy/types.ts';
import { checkWiring } from '../../scripts/deploy/wiring.ts';

const dirs = ['overlays/dev', 'overlays/prod'].map((d) =>
  fileURLToPath(new URL(`../../k8s/${d}`, import.meta.url)),
);
const rendered = dirs.map((d) => renderKustomization(d));
const prod = rendered[1] as K8sObject[];

/** prod with one object changed by JSON patch operations. */
function withPatch(kind: string, name: string, ops: JsonPatchOp[]): K8sObject[] {
  return prod.map((o) =>
    o.kind === kind && o.metadata.name === name ? (applyJsonPatch(o, ops) as K8sObject) : o,
  );
}
const all = (objects: K8sObject[]) => [
  ...checkPodSecurity(objects),
  ...checkWorkers(objects),
  ...checkWiring(objects),
];
const POD = '/spec/template/spec';
const C = `${POD}/containers/0`;

describe('security properties of the rendered worker and migrate Job', () => {
  it('hold for both overlays', () => {
    for (const objects of rendered) expect(all(objects)).toEqual([]);
  });

  // Each broken variant must produce a finding whose message or path names the property.
  const cases: [string, string, JsonPatchOp[], RegExp][] = [
    [
      'runAsNonRoot',
      'Deployment',
      [
        { op: 'remove', path: `${POD}/securityContext/runAsNonRoot` },
        { op: 'remove', path: `${C}/securityContext/runAsNonRoot` },
      ],
      /runAsNonRoot/,
    ],
    [
      'allowPrivilegeEscalation',
      'Deployment',
      [{ op: 'replace', path: `${C}/securityContext/allowPrivilegeEscalation`, value: true }],
      /allowPrivilegeEscalation/,
    ],
    [
      'drop ALL',
      'Deployment',
      [{ op: 'replace', path: `${C}/securityContext/capabilities/drop`, value: ['NET_RAW'] }],
      /drop/,
    ],
    [
      'seccomp',
      'Deployment',
      [
        { op: 'remove', path: `${POD}/securityContext/seccompProfile` },
        { op: 'remove', path: `${C}/securityContext/seccompProfile` },
      ],
      /seccomp/,
    ],
    [
      'readOnlyRootFilesystem',
      'Deployment',
      [{ op: 'replace', path: `${C}/securityContext/readOnlyRootFilesystem`, value: false }],
      /readOnlyRootFilesystem/,
    ],
    [
      '/tmp emptyDir',
      'Deployment',
      [{ op: 'replace', path: `${POD}/volumes/0`, value: { name: 'tmp', hostPath: { path: '/tmp' } } }],
      /tmp must be an emptyDir|hostPath/,
    ],
    [
      'token automount',
      'Deployment',
      [{ op: 'remove', path: `${POD}/automountServiceAccountToken` }],
      /automountServiceAccountToken/,
    ],
    [
      'liveness probe',
      'Deployment',
      [{ op: 'replace', path: `${C}/livenessProbe/httpGet/path`, value: '/readyz' }],
      /livenessProbe/,
    ],
    ['readiness probe', 'Deployment', [{ op: 'remove', path: `${C}/readinessProbe` }], /readinessProbe/],
    ['startup probe', 'Deployment', [{ op: 'remove', path: `${C}/startupProbe` }], /startupProbe/],
    [
      'grace period',
      'Deployment',
      [{ op: 'replace', path: `${POD}/terminationGracePeriodSeconds`, value: 25 }],
      /terminationGracePeriodSeconds/,
    ],
    [
      'grace vs configured timeout',
      'ConfigMap',
      [{ op: 'replace', path: '/data/STREAMSINK_SHUTDOWN_TIMEOUT_MS', value: '32000' }],
      /terminationGracePeriodSeconds/,
    ],
    [
      'pod name as consumer',
      'Deployment',
      [{ op: 'replace', path: `${C}/env/0`, value: { name: 'STREAMSINK_CONSUMER', value: 'w' } }],
      /downward API/,
    ],
    [
      'secrets as files',
      'Deployment',
      [{ op: 'add', path: `${C}/env/-`, value: { name: 'REDIS_URL', value: 'redis://x' } }],
      /REDIS_URL_FILE/,
    ],
    [
      'memory limit',
      'Deployment',
      [{ op: 'remove', path: `${C}/resources/limits` }],
      /memory limit|limits\/memory/,
    ],
    [
      'memory sized from in-flight',
      'ConfigMap',
      [{ op: 'replace', path: '/data/STREAMSINK_MAX_IN_FLIGHT', value: '10000' }],
      /heap/,
    ],
    [
      'topology spread',
      'Deployment',
      [{ op: 'remove', path: `${POD}/topologySpreadConstraints` }],
      /topologySpreadConstraints/,
    ],
    [
      'latest image',
      'Deployment',
      [{ op: 'replace', path: `${C}/image`, value: 'streamsink:latest' }],
      /latest/,
    ],
    [
      'privileged',
      'Job',
      [{ op: 'add', path: `${C}/securityContext/privileged`, value: true }],
      /privileged/,
    ],
  ];
  for (const [what, kind, ops, expected] of cases) {
    it(`fails without ${what}`, () => {
      const name =
        kind === 'Deployment'
          ? 'streamsink-worker'
          : kind === 'Job'
            ? 'streamsink-migrate'
            : 'streamsink-config';
      const findings = all(withPatch(kind, name, ops));
      expect(findings.map((f) => `${f.path}: ${f.message}`).join('\n')).toMatch(expected);
    });
  }
});

describe('wiring between objects', () => {
  const cases: [string, string, string, JsonPatchOp[], RegExp][] = [
    [
      'Service selector',
      'Service',
      'streamsink-metrics',
      [{ op: 'replace', path: '/spec/selector', value: { app: 'x' } }],
      /selects no pod/,
    ],
    [
      'ServiceMonitor port',
      'ServiceMonitor',
      'streamsink',
      [{ op: 'replace', path: '/spec/endpoints/0/port', value: 'http' }],
      /not a named port/,
    ],
    [
      'PDB selector',
      'PodDisruptionBudget',
      'streamsink-worker',
      [{ op: 'replace', path: '/spec/selector/matchLabels', value: { a: 'b' } }],
      /selects no pod/,
    ],
    [
      'egress to anything',
      'NetworkPolicy',
      'streamsink-worker',
      [{ op: 'add', path: '/spec/egress/-', value: { to: [{ ipBlock: { cidr: '0.0.0.0/0' } }] } }],
      /egress must name peers and only ports/,
    ],
    [
      'ingress beyond metrics',
      'NetworkPolicy',
      'streamsink-worker',
      [{ op: 'add', path: '/spec/ingress/0/ports/-', value: { port: 22 } }],
      /metrics port/,
    ],
    [
      'no network policy',
      'NetworkPolicy',
      'streamsink-worker',
      [{ op: 'replace', path: '/spec/podSelector/matchLabels', value: { a: 'b' } }],
      /no NetworkPolicy/,
    ],
    [
      'KEDA stream key',
      'ScaledObject',
      'streamsink-worker',
      [{ op: 'replace', path: '/spec/triggers/0/metadata/stream', value: 'payments' }],
      /stream key streamsink:\{payments\}/,
    ],
    [
      'KEDA group',
      'ScaledObject',
      'streamsink-worker',
      [{ op: 'replace', path: '/spec/triggers/0/metadata/consumerGroup', value: 'g' }],
      /payments-projector/,
    ],
    [
      'KEDA scale to zero',
      'ScaledObject',
      'streamsink-worker',
      [{ op: 'replace', path: '/spec/minReplicaCount', value: 0 }],
      /at least 1/,
    ],
    [
      'KEDA auth',
      'ScaledObject',
      'streamsink-worker',
      [{ op: 'replace', path: '/spec/triggers/0/authenticationRef/name', value: 'nope' }],
      /TriggerAuthentication nope/,
    ],
    [
      'migrate Job without the pipeline',
      'Job',
      'streamsink-migrate',
      [{ op: 'replace', path: `${C}/args`, value: ['migrate'] }],
      /must migrate the workers' pipeline/,
    ],
    [
      'migrate Job of another pipeline',
      'Job',
      'streamsink-migrate',
      [{ op: 'replace', path: `${C}/args`, value: ['migrate', '--pipeline', 'event-log'] }],
      /migrates pipeline event-log, but Deployment streamsink-worker runs payments/,
    ],
    [
      'ServiceAccount automount',
      'ServiceAccount',
      'streamsink',
      [{ op: 'replace', path: '/automountServiceAccountToken', value: true }],
      /automountServiceAccountToken/,
    ],
  ];
  for (const [what, kind, name, ops, expected] of cases) {
    it(`fails on a broken ${what}`, () => {
      const findings = all(withPatch(kind, name, ops));
      expect(findings.map((f) => `${f.path}: ${f.message}`).join('\n')).toMatch(expected);
    });
  }
});

describe('memory sizing', () => {
  it('reproduces the measurements it was fitted to, and the shipped limits cover it', () => {
    const mib = (n: number) => Math.round(n / 2 ** 20);
    // bench/worker-memory.ts, 2,000 in flight, heap cap 256 MiB: 212 MiB and 337 MiB peak RSS.
    expect(mib(workerRssBytes({ maxInFlight: 2000, avgEventBytes: 1024 }))).toBeGreaterThanOrEqual(200);
    expect(mib(workerRssBytes({ maxInFlight: 2000, avgEventBytes: 8192 }))).toBeGreaterThanOrEqual(330);
    expect(mib(minMemoryLimitBytes({ maxInFlight: 2000 }))).toBeLessThanOrEqual(512); // base and prod limit
    expect(mib(minMemoryLimitBytes({ maxInFlight: 500 }))).toBeLessThanOrEqual(256); // dev limit
    expect(mib(minHeapCapBytes({ maxInFlight: 2000 }))).toBeLessThanOrEqual(256);
    expect(workerRssBytes({ maxInFlight: 4000 })).toBeGreaterThan(workerRssBytes({ maxInFlight: 2000 }));
  });

  it('fails a Deployment whose limit was right for a smaller in-flight limit', () => {
    const findings = all(
      withPatch('ConfigMap', 'streamsink-config', [
        { op: 'replace', path: '/data/STREAMSINK_MAX_IN_FLIGHT', value: '3000' },
      ]),
    );
    expect(findings.map((f) => f.message).join('\n')).toMatch(/512 MiB < \d+ MiB needed for 3000 in flight/);
  });
});
