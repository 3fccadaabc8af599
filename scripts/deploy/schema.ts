import { validateServiceMonitor } from './servicemonitor-schema.ts';
import { type Finding, isPlainObject, type K8sObject, subjectOf } from './types.ts';

/**
 * Validates rendered objects against the Kubernetes OpenAPI schemas shipped in `kubernetes-models` (and KEDA's CRD
 * schemas in `@kubernetes-models/keda`). Those schemas accept unknown fields (Kubernetes prunes them silently,
 * which is how a typo like `readOnlyRootFilesystm` ships unnoticed), so unknown fields are found separately:
 * the compiled validator reads every property its schema defines, and a property it never read is one the schema
 * does not know. Maps (labels, ConfigMap data, resource quantities) are read whole by the validator, so their
 * keys count as known.
 */

type ValidateFn = (this: unknown) => void;

/** apiVersion -> module prefix whose `<Kind>` export is the model class. */
function modulePath(apiVersion: string, kind: string): string | undefined {
  if (apiVersion.startsWith('keda.sh/')) return `@kubernetes-models/keda/${apiVersion}/${kind}`;
  if (/^([a-z0-9.-]+\/)?v\d+((alpha|beta)\d+)?$/.test(apiVersion) && /^[A-Z][A-Za-z]+$/.test(kind)) {
    return `kubernetes-models/${apiVersion}/${kind}`;
  }
  return undefined;
}

/** Custom resources without a model package, checked by a schema of our own. */
const CUSTOM_VALIDATORS: Record<string, (o: K8sObject) => Finding[]> = {
  'monitoring.coreos.com/v1/ServiceMonitor': validateServiceMonitor,
};

export async function loadValidator(apiVersion: string, kind: string): Promise<ValidateFn | undefined> {
  const path = modulePath(apiVersion, kind);
  if (!path) return undefined;
  try {
    const mod = (await import(path)) as Record<string, { prototype?: { validate?: ValidateFn } } | undefined>;
    return mod[kind]?.prototype?.validate;
  } catch {
    return undefined;
  }
}

export async function validateObject(o: K8sObject): Promise<Finding[]> {
  const subject = subjectOf(o);
  const custom = CUSTOM_VALIDATORS[`${o.apiVersion}/${o.kind}`];
  if (custom) return custom(o);
  const validate = await loadValidator(o.apiVersion, o.kind);
  if (!validate) {
    return [{ subject, path: '', message: `no schema for ${o.apiVersion} ${o.kind}` }];
  }
  const read = new Set<string>();
  const present = new Set<string>();
  try {
    validate.call(track(o, '', read, present));
  } catch (error) {
    return [
      { subject, path: '', message: `schema: ${error instanceof Error ? error.message : String(error)}` },
    ];
  }
  return [...present]
    .filter((p) => !read.has(p))
    .map((p) => ({
      subject,
      path: p,
      message: 'unknown field (not in the schema; Kubernetes would drop it)',
    }));
}

export async function validateAll(objects: readonly K8sObject[]): Promise<Finding[]> {
  const out: Finding[] = [];
  for (const o of objects) out.push(...(await validateObject(o)));
  return out;
}

/**
 * A deep copy of `value` whose objects record each property read through them (`read`), and the list of
 * properties that exist (`present`), both as JSON-pointer paths.
 */
function track(value: unknown, path: string, read: Set<string>, present: Set<string>): unknown {
  if (Array.isArray(value)) return value.map((v, i) => track(v, `${path}/${i}`, read, present));
  if (!isPlainObject(value)) return value;
  const copy: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    present.add(`${path}/${k}`);
    copy[k] = track(v, `${path}/${k}`, read, present);
  }
  return new Proxy(copy, {
    get(target, key, receiver) {
      if (typeof key === 'string') read.add(`${path}/${key}`);
      return Reflect.get(target, key, receiver);
    },
  });
}
