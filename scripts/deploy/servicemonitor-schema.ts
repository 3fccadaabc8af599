import { type Finding, isPlainObject, type K8sObject, subjectOf } from './types.ts';

/**
 * A structural check of a Prometheus Operator ServiceMonitor (monitoring.coreos.com/v1). No model package ships
 * its CRD schema, so this covers the part of it streamsink uses, strictly: a field outside that part is reported
 * (it may be valid in the CRD; add it here when a manifest needs it), and so is a wrong type.
 */

type Check = (value: unknown, path: string) => string | undefined;

const str: Check = (v) => (typeof v === 'string' ? undefined : 'expected a string');
const bool: Check = (v) => (typeof v === 'boolean' ? undefined : 'expected a boolean');
const int: Check = (v) => (Number.isInteger(v) ? undefined : 'expected an integer');
const duration: Check = (v) =>
  typeof v === 'string' && /^(\d+(ms|s|m|h|d|w|y))+$/.test(v) ? undefined : 'expected a duration like 30s';
const stringMap: Check = (v) =>
  isPlainObject(v) && Object.values(v).every((x) => typeof x === 'string')
    ? undefined
    : 'expected a string map';
const oneOf =
  (...values: string[]): Check =>
  (v) =>
    typeof v === 'string' && values.includes(v) ? undefined : `expected one of ${values.join(', ')}`;

interface Shape {
  [field: string]: Check | Shape | [Shape];
}

const LABEL_SELECTOR: Shape = {
  matchLabels: stringMap,
  matchExpressions: [
    { key: str, operator: oneOf('In', 'NotIn', 'Exists', 'DoesNotExist'), values: anyStrings() },
  ],
};
const RELABEL: Shape = {
  sourceLabels: anyStrings(),
  separator: str,
  targetLabel: str,
  regex: str,
  modulus: int,
  replacement: str,
  action: oneOf(
    'replace',
    'keep',
    'drop',
    'hashmod',
    'labelmap',
    'labeldrop',
    'labelkeep',
    'lowercase',
    'uppercase',
  ),
};
const ENDPOINT: Shape = {
  port: str,
  targetPort: str,
  path: str,
  scheme: oneOf('http', 'https'),
  interval: duration,
  scrapeTimeout: duration,
  honorLabels: bool,
  honorTimestamps: bool,
  relabelings: [RELABEL],
  metricRelabelings: [RELABEL],
};
const SERVICE_MONITOR: Shape = {
  apiVersion: str,
  kind: str,
  metadata: { name: str, namespace: str, labels: stringMap, annotations: stringMap },
  spec: {
    jobLabel: str,
    targetLabels: anyStrings(),
    podTargetLabels: anyStrings(),
    sampleLimit: int,
    selector: LABEL_SELECTOR,
    namespaceSelector: { any: bool, matchNames: anyStrings() },
    endpoints: [ENDPOINT],
  },
};

function anyStrings(): Check {
  return (v) => (Array.isArray(v) && v.every((x) => typeof x === 'string') ? undefined : 'expected strings');
}

export function validateServiceMonitor(o: K8sObject): Finding[] {
  const subject = subjectOf(o);
  const findings = walk(o, SERVICE_MONITOR, '').map(({ path, message }) => ({ subject, path, message }));
  const spec = isPlainObject(o.spec) ? o.spec : {};
  if (!isPlainObject(spec.selector)) findings.push({ subject, path: '/spec/selector', message: 'required' });
  if (!Array.isArray(spec.endpoints) || spec.endpoints.length === 0) {
    findings.push({ subject, path: '/spec/endpoints', message: 'at least one endpoint is required' });
  }
  return findings;
}

function walk(value: unknown, shape: Shape, path: string): { path: string; message: string }[] {
  if (!isPlainObject(value)) return [{ path: path || '/', message: 'expected an object' }];
  const out: { path: string; message: string }[] = [];
  for (const [key, v] of Object.entries(value)) {
    const p = `${path}/${key}`;
    const rule = shape[key];
    if (rule === undefined) out.push({ path: p, message: 'unknown field' });
    else if (typeof rule === 'function') {
      const problem = rule(v, p);
      if (problem) out.push({ path: p, message: problem });
    } else if (Array.isArray(rule)) {
      if (!Array.isArray(v)) out.push({ path: p, message: 'expected a list' });
      else for (const [i, item] of v.entries()) out.push(...walk(item, rule[0], `${p}/${i}`));
    } else out.push(...walk(v, rule, p));
  }
  return out;
}
