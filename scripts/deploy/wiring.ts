import { checkPartitionCap } from './partitions.ts';
import { containersOf, envValue, list, obj, podTemplates, selectorMatches } from './pod-spec.ts';
import { type Finding, type K8sObject, subjectOf } from './types.ts';

/**
 * Cross-object checks a schema cannot see: selectors that select the pods they are meant for, references to
 * objects that exist, network policy that allows exactly Redis, Postgres and DNS out and metrics in, and an
 * autoscaler that watches the stream and group the workers actually consume, and a migrate Job that migrates
 * the pipeline the workers run (otherwise a user pipeline's tables never exist and its workers never start).
 */

export interface WiringOptions {
  /** Ports workloads may reach: Redis, Postgres, DNS. */
  egressPorts: readonly number[];
  metricsPort: number;
  lagMetric: string;
}

export const DEFAULT_WIRING: WiringOptions = {
  egressPorts: [6379, 5432, 53],
  metricsPort: 9464,
  lagMetric: 'streamsink_consumer_lag_messages',
};

export function checkWiring(objects: readonly K8sObject[], opts: WiringOptions = DEFAULT_WIRING): Finding[] {
  const out: Finding[] = [];
  const f = (o: K8sObject, path: string, message: string) =>
    out.push({ subject: subjectOf(o), path, message });
  const find = (kind: string, name: unknown, ns: string | undefined) =>
    objects.find((o) => o.kind === kind && o.metadata.name === name && o.metadata.namespace === ns);
  const pods = podTemplates(objects);
  const deployments = objects.filter((o) => o.kind === 'Deployment');

  for (const t of pods) {
    const ns = t.owner.metadata.namespace;
    const sa = t.spec.serviceAccountName;
    if (sa !== undefined && objects.some((o) => o.kind === 'ServiceAccount')) {
      const account = find('ServiceAccount', sa, ns);
      if (!account) f(t.owner, `${t.path}/serviceAccountName`, `ServiceAccount ${String(sa)} is not defined`);
      else if (account.automountServiceAccountToken !== false) {
        f(account, '/automountServiceAccountToken', 'must be false');
      }
    }
    for (const c of containersOf(t.spec)) {
      for (const from of list(c.envFrom).map(obj)) {
        const ref = obj(from.configMapRef).name;
        if (ref !== undefined && !find('ConfigMap', ref, ns)) {
          f(
            t.owner,
            `${t.path}/containers/${String(c.name)}/envFrom`,
            `ConfigMap ${String(ref)} is not defined`,
          );
        }
      }
    }
    const policies = objects.filter(
      (o) =>
        o.kind === 'NetworkPolicy' &&
        o.metadata.namespace === ns &&
        selectorMatches(obj(o.spec).podSelector, t.labels),
    );
    const types = new Set(policies.flatMap((p) => list(obj(p.spec).policyTypes)));
    if (!types.has('Ingress') || !types.has('Egress')) {
      f(t.owner, t.path, 'no NetworkPolicy restricts both ingress and egress of these pods');
    }
  }

  for (const o of objects) {
    const spec = obj(o.spec);
    const ns = o.metadata.namespace;
    const selectsPods = (selector: unknown) => pods.some((t) => selectorMatches(selector, t.labels));
    switch (o.kind) {
      case 'Service': {
        if (!selectsPods(spec.selector === undefined ? undefined : { matchLabels: spec.selector })) {
          f(o, '/spec/selector', 'selects no pod template');
        }
        break;
      }
      case 'PodDisruptionBudget':
        if (!selectsPods(spec.selector)) f(o, '/spec/selector', 'selects no pod template');
        break;
      case 'ServiceMonitor': {
        const services = objects.filter(
          (s) =>
            s.kind === 'Service' &&
            s.metadata.namespace === ns &&
            selectorMatches(spec.selector, s.metadata.labels ?? {}),
        );
        if (services.length === 0) f(o, '/spec/selector', 'selects no Service');
        for (const e of list(spec.endpoints).map(obj)) {
          const named = services.some((s) => list(obj(s.spec).ports).some((p) => obj(p).name === e.port));
          if (!named)
            f(o, '/spec/endpoints', `port ${String(e.port)} is not a named port of the selected Service`);
        }
        break;
      }
      case 'NetworkPolicy':
        out.push(...checkNetworkPolicy(o, opts));
        break;
      case 'Job':
        out.push(...checkMigrateJob(o, objects));
        break;
      case 'ScaledObject':
      case 'HorizontalPodAutoscaler': {
        const target = obj(spec.scaleTargetRef).name;
        if (deployments.length > 0 && !find('Deployment', target, ns)) {
          f(o, '/spec/scaleTargetRef', `Deployment ${String(target)} is not defined`);
        }
        out.push(...(o.kind === 'ScaledObject' ? checkScaledObject(o, objects) : checkHpa(o, opts)));
        break;
      }
    }
  }
  return out;
}

function checkNetworkPolicy(o: K8sObject, opts: WiringOptions): Finding[] {
  const out: Finding[] = [];
  const spec = obj(o.spec);
  const ports = (rules: unknown) =>
    list(rules)
      .map(obj)
      .map((r) => ({ peers: list(r.to ?? r.from), ports: list(r.ports).map(obj) }));
  for (const [i, rule] of ports(spec.ingress).entries()) {
    if (
      rule.ports.length === 0 ||
      rule.ports.some((p) => p.port !== opts.metricsPort && p.port !== 'metrics')
    ) {
      out.push({
        subject: subjectOf(o),
        path: `/spec/ingress/${i}`,
        message: 'ingress only to the metrics port',
      });
    }
  }
  for (const [i, rule] of ports(spec.egress).entries()) {
    const bad =
      rule.ports.length === 0 ||
      rule.peers.length === 0 ||
      rule.ports.some((p) => !opts.egressPorts.includes(Number(p.port)) || p.endPort !== undefined);
    if (bad) {
      out.push({
        subject: subjectOf(o),
        path: `/spec/egress/${i}`,
        message: `egress must name peers and only ports ${opts.egressPorts.join(', ')}`,
      });
    }
  }
  const dns = ports(spec.egress).flatMap((r) =>
    r.ports.filter((p) => Number(p.port) === 53).map((p) => p.protocol),
  );
  if (list(spec.policyTypes).includes('Egress') && !dns.includes('UDP')) {
    out.push({ subject: subjectOf(o), path: '/spec/egress', message: 'DNS (UDP 53) must be allowed' });
  }
  return out;
}

function checkScaledObject(o: K8sObject, objects: readonly K8sObject[]): Finding[] {
  const out: Finding[] = [];
  const f = (path: string, message: string) => out.push({ subject: subjectOf(o), path, message });
  const spec = obj(o.spec);
  const ns = o.metadata.namespace;
  if (!(Number(spec.minReplicaCount ?? 0) >= 1)) {
    f('/spec/minReplicaCount', 'must be at least 1: pending entries need a live worker even at lag 0');
  }
  out.push(...checkPartitionCap(o));
  const target = objects.find(
    (d) =>
      d.kind === 'Deployment' &&
      d.metadata.name === obj(spec.scaleTargetRef).name &&
      d.metadata.namespace === ns,
  );
  const worker = target ? containersOf(obj(obj(obj(target.spec).template).spec))[0] : undefined;
  for (const [i, trig] of list(spec.triggers).map(obj).entries()) {
    const md = obj(trig.metadata);
    if (trig.type !== 'redis-streams') continue;
    if (md.lagCount === undefined) f(`/spec/triggers/${i}/metadata`, 'must scale on lagCount');
    const auth = obj(trig.authenticationRef).name;
    if (objects.some((x) => x.kind === 'TriggerAuthentication')) {
      if (
        !objects.some(
          (x) =>
            x.kind === 'TriggerAuthentication' && x.metadata.name === auth && x.metadata.namespace === ns,
        )
      ) {
        f(`/spec/triggers/${i}/authenticationRef`, `TriggerAuthentication ${String(auth)} is not defined`);
      }
    }
    if (worker) {
      const env = (n: string) => envValue(worker, n, objects, ns);
      const key = `${env('STREAMSINK_KEY_PREFIX') ?? 'streamsink'}:{${env('STREAMSINK_STREAM') ?? 'events'}}`;
      if (md.stream !== key)
        f(`/spec/triggers/${i}/metadata/stream`, `must be the workers' stream key ${key}`);
      const group = env('STREAMSINK_GROUP') ?? 'streamsink';
      if (md.consumerGroup !== group) f(`/spec/triggers/${i}/metadata/consumerGroup`, `must be ${group}`);
    }
  }
  return out;
}

function checkHpa(o: K8sObject, opts: WiringOptions): Finding[] {
  const metrics = list(obj(o.spec).metrics).map(obj);
  const onLag = metrics.some((m) => obj(obj(m.external).metric).name === opts.lagMetric);
  const cap = checkPartitionCap(o);
  return onLag
    ? cap
    : [{ subject: subjectOf(o), path: '/spec/metrics', message: `must scale on ${opts.lagMetric}` }, ...cap];
}

/** A Job running `migrate` must pass `--pipeline`, resolving to the STREAMSINK_PIPELINE of every worker. */
function checkMigrateJob(o: K8sObject, objects: readonly K8sObject[]): Finding[] {
  const ns = o.metadata.namespace;
  const container = containersOf(obj(obj(obj(o.spec).template).spec))[0];
  const args = list(container?.args);
  if (!container || args[0] !== 'migrate') return [];
  const path = '/spec/template/spec/containers/0/args';
  const at = args.indexOf('--pipeline');
  if (at === -1)
    return [{ subject: subjectOf(o), path, message: "must migrate the workers' pipeline: --pipeline" }];
  const arg = String(args[at + 1]);
  // $(VAR) is expanded by the kubelet from the container's own env.
  const variable = /^\$\(([A-Za-z_][A-Za-z0-9_]*)\)$/.exec(arg)?.[1];
  const migrated = variable === undefined ? arg : envValue(container, variable, objects, ns);
  const out: Finding[] = [];
  for (const d of objects.filter((x) => x.kind === 'Deployment' && x.metadata.namespace === ns)) {
    const worker = containersOf(obj(obj(obj(d.spec).template).spec))[0];
    if (!worker) continue;
    const pipeline = envValue(worker, 'STREAMSINK_PIPELINE', objects, ns) ?? 'event-log';
    if (migrated !== pipeline)
      out.push({
        subject: subjectOf(o),
        path,
        message: `migrates pipeline ${String(migrated)}, but Deployment ${d.metadata.name} runs ${pipeline}`,
      });
  }
  return out;
}
