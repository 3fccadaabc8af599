import { isPlainObject, type K8sObject } from './types.ts';

/** Helpers to reach the pod templates and configuration inside rendered workloads. */

export type Json = Record<string, unknown>;

export interface PodTemplate {
  owner: K8sObject;
  /** Path of the pod spec inside the owner, for findings. */
  path: string;
  labels: Record<string, string>;
  spec: Json;
}

export function podTemplates(objects: readonly K8sObject[]): PodTemplate[] {
  const out: PodTemplate[] = [];
  for (const o of objects) {
    const spec = obj(o.spec);
    let template: Json | undefined;
    let path = '/spec/template';
    if (['Deployment', 'StatefulSet', 'DaemonSet', 'Job', 'ReplicaSet'].includes(o.kind)) {
      template = obj(spec.template);
    } else if (o.kind === 'CronJob') {
      template = obj(obj(obj(spec.jobTemplate).spec).template);
      path = '/spec/jobTemplate/spec/template';
    }
    if (template) {
      const labels = obj(obj(template.metadata).labels) as Record<string, string>;
      out.push({ owner: o, path: `${path}/spec`, labels, spec: obj(template.spec) });
    }
  }
  return out;
}

export function containersOf(pod: Json): Json[] {
  return [...list(pod.initContainers), ...list(pod.containers)].filter(isPlainObject);
}

export function obj(v: unknown): Json {
  return isPlainObject(v) ? v : {};
}
export function list(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}

export function selectorMatches(selector: unknown, labels: Record<string, string>): boolean {
  const s = obj(selector);
  const matchLabels = obj(s.matchLabels);
  if (Object.keys(matchLabels).length === 0 && list(s.matchExpressions).length === 0) return false;
  if (list(s.matchExpressions).length > 0) return false; // not used by k8s/; treat as "cannot prove a match"
  return Object.entries(matchLabels).every(([k, v]) => labels[k] === v);
}

/**
 * The value of an env variable as the container would see it: its `env` (a value, or a ConfigMap key it
 * names), else a ConfigMap named in envFrom.
 */
export function envValue(
  container: Json,
  name: string,
  objects: readonly K8sObject[],
  namespace: string | undefined,
): string | undefined {
  const direct = list(container.env)
    .map(obj)
    .find((e) => e.name === name);
  if (direct) {
    if (typeof direct.value === 'string') return direct.value;
    const ref = obj(obj(direct.valueFrom).configMapKeyRef);
    const cm = objects.find(
      (o) => o.kind === 'ConfigMap' && o.metadata.name === ref.name && o.metadata.namespace === namespace,
    );
    const value = typeof ref.key === 'string' ? obj(cm?.data)[ref.key] : undefined;
    return typeof value === 'string' ? value : undefined;
  }
  for (const from of list(container.envFrom).map(obj)) {
    const ref = obj(from.configMapRef).name;
    const cm = objects.find(
      (o) => o.kind === 'ConfigMap' && o.metadata.name === ref && o.metadata.namespace === namespace,
    );
    const value = obj(cm?.data)[name];
    if (typeof value === 'string') return value;
  }
  return undefined;
}

/** Bytes in a Kubernetes quantity (`384Mi`, `1Gi`, `500M`, `1024`); NaN when unparseable. */
export function quantityBytes(q: unknown): number {
  const m = /^(\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti|k|M|G|T)?$/.exec(String(q));
  if (!m) return Number.NaN;
  const unit: Record<string, number> = {
    Ki: 2 ** 10,
    Mi: 2 ** 20,
    Gi: 2 ** 30,
    Ti: 2 ** 40,
    k: 1e3,
    M: 1e6,
    G: 1e9,
    T: 1e12,
  };
  return Number(m[1]) * (m[2] ? (unit[m[2]] ?? Number.NaN) : 1);
}
