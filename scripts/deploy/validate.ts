import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { parse } from 'yaml';
import { checkCompose } from './compose-check.ts';
import { lintDockerfile } from './dockerfile-lint.ts';
import { diffRenderings, kubectlKustomize } from './kubectl.ts';
import { findKustomizationFile, renderKustomization } from './kustomize.ts';
import { lintAclFile } from './redis-acl.ts';
import { validateAll } from './schema.ts';
import { checkPodSecurity, checkWorkers } from './security.ts';
import type { Finding, K8sObject } from './types.ts';
import { checkWiring } from './wiring.ts';

/**
 * Everything `npm run validate:deploy` checks, as one function over a project root, so tests can run it on a
 * copy of the tree with a deliberately broken file.
 */

export interface Section {
  name: string;
  findings: Finding[];
  /** What was checked, or why a part was skipped. */
  notes: string[];
}

export interface ValidateOptions {
  root: string;
  /** kubectl binary for the cross-check; `false` skips it. */
  kubectl?: string | false;
}

export async function validateDeploy({ root, kubectl = 'kubectl' }: ValidateOptions): Promise<Section[]> {
  const sections: Section[] = [];
  const k8s = join(root, 'k8s');
  for (const dir of kustomizationDirs(k8s)) {
    const name = relative(root, dir);
    const section: Section = { name, findings: [], notes: [] };
    sections.push(section);
    let objects: K8sObject[];
    try {
      objects = renderKustomization(dir);
    } catch (error) {
      section.findings.push({ subject: name, path: '', message: `render: ${(error as Error).message}` });
      continue;
    }
    section.notes.push(`${objects.length} objects: ${[...new Set(objects.map((o) => o.kind))].join(', ')}`);
    if (kubectl) {
      try {
        const theirs = kubectlKustomize(dir, kubectl);
        if (theirs === undefined) section.notes.push('kubectl not installed: offline renderer only');
        else {
          const diff = diffRenderings(objects, theirs);
          for (const d of diff)
            section.findings.push({ subject: name, path: '', message: `kubectl kustomize: ${d}` });
          if (diff.length === 0) section.notes.push('kubectl kustomize renders the same objects');
        }
      } catch (error) {
        section.findings.push({ subject: name, path: '', message: (error as Error).message });
      }
    }
    section.findings.push(
      ...(await validateAll(objects)),
      ...checkPodSecurity(objects),
      ...checkWorkers(objects),
      ...checkWiring(objects),
    );
  }

  sections.push(fileSection(root, 'Dockerfile', lintDockerfile));
  sections.push(fileSection(root, 'k8s/redis-acl.conf', lintAclFile));
  sections.push(fileSection(root, 'compose.yaml', checkCompose));
  sections.push(fileSection(root, 'k8s/autoscaling/hpa/prometheus-adapter-values.yaml', checkAdapterValues));
  return sections;
}

function fileSection(
  root: string,
  file: string,
  check: (text: string, subject: string) => Finding[],
): Section {
  const path = join(root, file);
  if (!existsSync(path))
    return { name: file, findings: [{ subject: file, path: '', message: 'missing' }], notes: [] };
  return { name: file, findings: check(readFileSync(path, 'utf8'), file), notes: [] };
}

/** prometheus-adapter rules: the lag metric, reduced with max (each pod reports the same group gauge). */
export function checkAdapterValues(text: string, subject: string): Finding[] {
  const rules = (
    parse(text) as { rules?: { external?: { name?: { as?: string }; metricsQuery?: string }[] } }
  )?.rules?.external;
  const rule = rules?.find((r) => r.name?.as === 'streamsink_consumer_lag_messages');
  if (!rule)
    return [{ subject, path: '/rules/external', message: 'no rule for streamsink_consumer_lag_messages' }];
  if (!/^\s*max\b/.test(rule.metricsQuery ?? '')) {
    return [{ subject, path: '/rules/external', message: 'metricsQuery must aggregate with max, not sum' }];
  }
  return [];
}

/** Every directory under `dir` holding a kustomization, parents first. */
export function kustomizationDirs(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const out = findKustomizationFile(dir) ? [dir] : [];
  for (const e of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    if (e.isDirectory()) out.push(...kustomizationDirs(join(dir, e.name)));
  }
  return out;
}
