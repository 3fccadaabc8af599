/** A rendered Kubernetes object: only the fields every object has are typed; the rest is checked at run time. */
export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; [key: string]: unknown };
  [key: string]: unknown;
}

/** One problem a check found, with where it is. */
export interface Finding {
  /** `Kind/name` (or a file name) the finding is about. */
  subject: string;
  /** JSON-pointer-like path inside the subject, or a line reference. */
  path: string;
  message: string;
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function objectId(o: Pick<K8sObject, 'apiVersion' | 'kind' | 'metadata'>): string {
  const ns = o.metadata.namespace ? `${o.metadata.namespace}/` : '';
  return `${o.apiVersion}/${o.kind}/${ns}${o.metadata.name}`;
}

export function subjectOf(o: Pick<K8sObject, 'kind' | 'metadata'>): string {
  return `${o.kind}/${o.metadata.name}`;
}

export function formatFinding(f: Finding): string {
  return `${f.subject}${f.path ? ` ${f.path}` : ''}: ${f.message}`;
}
