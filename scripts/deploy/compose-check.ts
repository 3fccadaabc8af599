import { parse } from 'yaml';
import { list, obj } from './pod-spec.ts';
import type { Finding } from './types.ts';

/**
 * Structural checks of compose.yaml (no Docker engine here to run it): the services the README promises exist,
 * streamsink containers run hardened as in Kubernetes, workers start only after migrations succeeded and get
 * time to drain, and third-party images are pinned.
 */
export function checkCompose(text: string, subject = 'compose.yaml'): Finding[] {
  const out: Finding[] = [];
  const f = (path: string, message: string) => out.push({ subject, path, message });
  let doc: unknown;
  try {
    doc = parse(text, { merge: true });
  } catch (error) {
    return [
      { subject, path: '', message: `invalid YAML: ${error instanceof Error ? error.message : error}` },
    ];
  }
  const services = obj(obj(doc).services);
  const command = (s: Record<string, unknown>) => list(s.command).map(String).join(' ');
  for (const name of ['redis', 'postgres', 'migrate', 'producer']) {
    if (!services[name]) f(`/services/${name}`, 'missing');
  }
  const workers = Object.entries(services).filter(([, s]) => command(obj(s)) === 'worker');
  if (workers.length < 2)
    f('/services', 'two worker services are expected (one consumer group, two consumers)');
  const consumers = workers.map(([, s]) => obj(obj(s).environment).STREAMSINK_CONSUMER);
  if (new Set(consumers).size !== consumers.length || consumers.includes(undefined)) {
    f('/services', 'each worker needs its own STREAMSINK_CONSUMER');
  }

  for (const [name, raw] of Object.entries(services)) {
    const s = obj(raw);
    const at = `/services/${name}`;
    if (s.build !== undefined) {
      if (s.read_only !== true) f(`${at}/read_only`, 'must be true');
      const user = /^(\d+)(?::(\d+))?$/.exec(String(s.user ?? ''));
      if (!user || Number(user[1]) === 0) f(`${at}/user`, 'must be a numeric non-root uid');
      if (!list(s.tmpfs).includes('/tmp')) f(`${at}/tmpfs`, 'must include /tmp');
      if (!list(s.cap_drop).includes('ALL')) f(`${at}/cap_drop`, 'must drop ALL');
      if (!list(s.security_opt).some((o) => /^no-new-privileges(:true)?$/.test(String(o)))) {
        f(`${at}/security_opt`, 'must set no-new-privileges');
      }
    } else if (!/:\d+\.\d+(\.\d+)?(-[\w.-]+)?$|@sha256:/.test(String(s.image ?? ''))) {
      f(`${at}/image`, `pin a version (${String(s.image)})`);
    }
  }
  for (const [name, raw] of workers) {
    const s = obj(raw);
    const migrate = obj(obj(s.depends_on).migrate);
    if (migrate.condition !== 'service_completed_successfully') {
      f(`/services/${name}/depends_on`, 'must wait for migrate to complete successfully');
    }
    const grace = /^(\d+)s$/.exec(String(s.stop_grace_period ?? ''));
    if (!grace || Number(grace[1]) <= 25) {
      f(`/services/${name}/stop_grace_period`, 'must exceed the 25 s shutdown timeout');
    }
  }
  return out;
}
