import { MiB, minHeapCapBytes, minMemoryLimitBytes } from './memory.ts';
import {
  containersOf,
  envValue,
  list,
  obj,
  type PodTemplate,
  podTemplates,
  quantityBytes,
  selectorMatches,
} from './pod-spec.ts';
import type { Finding, K8sObject } from './types.ts';
import { subjectOf } from './types.ts';

/**
 * Security and operational properties of rendered workloads, asserted rather than promised in comments:
 * Pod Security Standards "restricted" for every pod template, plus what the worker Deployment needs to be safe
 * to run (probes, graceful shutdown within the grace period, consumer name, secrets as files, memory sizing).
 */

/** Default of STREAMSINK_SHUTDOWN_TIMEOUT_MS (src/lib/config.ts). */
export const DEFAULT_SHUTDOWN_TIMEOUT_MS = 25_000;
/** Time the process needs after the drain budget: closing clients and exiting. */
export const EXIT_MARGIN_MS = 5_000;

export function checkPodSecurity(objects: readonly K8sObject[]): Finding[] {
  const out: Finding[] = [];
  for (const t of podTemplates(objects)) {
    const f = (path: string, message: string) =>
      out.push({ subject: subjectOf(t.owner), path: `${t.path}${path}`, message });
    const pod = t.spec;
    const podSc = obj(pod.securityContext);
    if (pod.automountServiceAccountToken !== false) f('/automountServiceAccountToken', 'must be false');
    for (const key of ['hostNetwork', 'hostPID', 'hostIPC'])
      if (pod[key] === true) f(`/${key}`, 'must not be set');
    const volumes = list(pod.volumes).map(obj);
    for (const v of volumes)
      if (v.hostPath !== undefined) f(`/volumes/${v.name}`, 'hostPath volumes are forbidden');
    if (podSc.runAsUser === 0) f('/securityContext/runAsUser', 'must not be 0');

    containersOf(pod).forEach((c) => {
      const at = `/containers/${String(c.name)}`;
      const sc = obj(c.securityContext);
      if (sc.runAsNonRoot !== true && podSc.runAsNonRoot !== true)
        f(`${at}/securityContext`, 'runAsNonRoot must be true');
      if (sc.runAsUser === 0) f(`${at}/securityContext/runAsUser`, 'must not be 0');
      const seccomp = obj(sc.seccompProfile).type ?? obj(podSc.seccompProfile).type;
      if (seccomp !== 'RuntimeDefault' && seccomp !== 'Localhost') {
        f(`${at}/securityContext/seccompProfile`, 'must be RuntimeDefault (or Localhost)');
      }
      if (sc.allowPrivilegeEscalation !== false)
        f(`${at}/securityContext/allowPrivilegeEscalation`, 'must be false');
      if (sc.privileged === true) f(`${at}/securityContext/privileged`, 'must not be true');
      const caps = obj(sc.capabilities);
      if (!list(caps.drop).includes('ALL')) f(`${at}/securityContext/capabilities/drop`, 'must include ALL');
      if (list(caps.add).some((c) => c !== 'NET_BIND_SERVICE')) {
        f(`${at}/securityContext/capabilities/add`, 'only NET_BIND_SERVICE may be added');
      }
      if (sc.readOnlyRootFilesystem !== true)
        f(`${at}/securityContext/readOnlyRootFilesystem`, 'must be true');
      const tmp = list(c.volumeMounts)
        .map(obj)
        .find((m) => m.mountPath === '/tmp');
      const tmpVolume = volumes.find((v) => v.name === tmp?.name);
      if (!tmpVolume || tmpVolume.emptyDir === undefined)
        f(`${at}/volumeMounts`, '/tmp must be an emptyDir mount');
      const image = String(c.image ?? '');
      if (
        !/(:[\w][\w.-]*|@sha256:[a-f0-9]{64})$/.test(image.replace(/^[^/]*\//, '')) ||
        /:latest$/.test(image)
      ) {
        f(`${at}/image`, `must carry a version tag or digest, not latest (${image})`);
      }
      const resources = obj(c.resources);
      if (!obj(resources.requests).cpu || !obj(resources.requests).memory) {
        f(`${at}/resources/requests`, 'cpu and memory requests are required');
      }
      if (!obj(resources.limits).memory) f(`${at}/resources/limits/memory`, 'a memory limit is required');
    });
  }
  return out;
}

/** Checks specific to Deployments running `streamsink worker`. */
export function checkWorkers(objects: readonly K8sObject[]): Finding[] {
  const out: Finding[] = [];
  const workers = podTemplates(objects).filter(
    (t) => t.owner.kind === 'Deployment' && containersOf(t.spec).some((c) => list(c.args)[0] === 'worker'),
  );
  for (const t of workers) {
    const f = (path: string, message: string) =>
      out.push({ subject: subjectOf(t.owner), path: `${t.path}${path}`, message });
    checkWorker(t, objects, f);
  }
  return out;
}

function checkWorker(t: PodTemplate, objects: readonly K8sObject[], f: (p: string, m: string) => void): void {
  const ns = t.owner.metadata.namespace;
  const c = containersOf(t.spec).find((x) => list(x.args)[0] === 'worker') ?? {};
  const at = `/containers/${String(c.name)}`;
  const env = (name: string) => envValue(c, name, objects, ns);

  const probe = (key: string, path: string) => {
    const get = obj(obj(c[key]).httpGet);
    if (get.path !== path) f(`${at}/${key}`, `must be an httpGet of ${path}`);
    const ports = list(c.ports).map(obj);
    if (!ports.some((p) => p.name === get.port || p.containerPort === get.port)) {
      f(`${at}/${key}/httpGet/port`, 'must name a container port');
    }
  };
  probe('livenessProbe', '/healthz');
  probe('readinessProbe', '/readyz');
  if (c.startupProbe === undefined) f(`${at}/startupProbe`, 'required (slow starts must not trip liveness)');

  const shutdownMs = Number(env('STREAMSINK_SHUTDOWN_TIMEOUT_MS') ?? DEFAULT_SHUTDOWN_TIMEOUT_MS);
  const graceMs = Number(t.spec.terminationGracePeriodSeconds ?? 30) * 1000;
  if (!(graceMs >= shutdownMs + EXIT_MARGIN_MS)) {
    f(
      '/terminationGracePeriodSeconds',
      `${graceMs / 1000}s must exceed STREAMSINK_SHUTDOWN_TIMEOUT_MS (${shutdownMs} ms) by ${EXIT_MARGIN_MS} ms`,
    );
  }

  const consumer = list(c.env)
    .map(obj)
    .find((e) => e.name === 'STREAMSINK_CONSUMER');
  if (obj(obj(consumer?.valueFrom).fieldRef).fieldPath !== 'metadata.name') {
    f(`${at}/env/STREAMSINK_CONSUMER`, 'must come from the downward API (metadata.name)');
  }

  for (const secret of ['REDIS_URL', 'DATABASE_URL']) {
    if (env(secret) !== undefined)
      f(`${at}/env/${secret}`, `must not be plain configuration; use ${secret}_FILE`);
    const file = env(`${secret}_FILE`);
    const mount = list(c.volumeMounts)
      .map(obj)
      .find((m) => file?.startsWith(`${String(m.mountPath)}/`));
    const volume = list(t.spec.volumes)
      .map(obj)
      .find((v) => v.name === mount?.name);
    if (!file || volume?.secret === undefined) {
      f(`${at}/env/${secret}_FILE`, 'must point into a mounted Secret volume');
    }
  }

  const spread = list(t.spec.topologySpreadConstraints).map(obj);
  if (spread.length === 0) f('/topologySpreadConstraints', 'required (replicas across zones and nodes)');
  for (const s of spread) {
    if (!selectorMatches(s.labelSelector, t.labels)) {
      f(
        '/topologySpreadConstraints',
        `labelSelector for ${String(s.topologyKey)} does not match the pod labels`,
      );
    }
  }

  const maxInFlight = Number(env('STREAMSINK_MAX_IN_FLIGHT') ?? 2000);
  const limit = quantityBytes(obj(obj(c.resources).limits).memory);
  const heapFlag = /--max-old-space-size=(\d+)/.exec(env('NODE_OPTIONS') ?? '');
  const heap = heapFlag ? Number(heapFlag[1]) * MiB : undefined;
  const mib = (n: number) => `${Math.ceil(n / MiB)} MiB`;
  const needLimit = minMemoryLimitBytes({ maxInFlight });
  const needHeap = minHeapCapBytes({ maxInFlight });
  if (!(limit >= needLimit)) {
    f(
      `${at}/resources/limits/memory`,
      `${mib(limit)} < ${mib(needLimit)} needed for ${maxInFlight} in flight`,
    );
  }
  if (heap === undefined) f(`${at}/env/NODE_OPTIONS`, 'must cap the V8 heap (--max-old-space-size)');
  else if (heap < needHeap || heap >= limit) {
    f(
      `${at}/env/NODE_OPTIONS`,
      `heap cap ${mib(heap)} must be >= ${mib(needHeap)} and below the memory limit`,
    );
  }
}
