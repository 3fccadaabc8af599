import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { checkCompose } from '../../scripts/deploy/compose-check.ts';
import { formatFinding } from '../../scripts/deploy/types.ts';
import { validateDeploy } from '../../scripts/deploy/validate.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** A copy of the deployment files, to break one of them. */
function copyTree(): string {
  const dir = mkdtempSync(join(tmpdir(), 'streamsink-deploy-'));
  dirs.push(dir);
  for (const p of ['k8s', 'Dockerfile', 'compose.yaml'])
    cpSync(join(ROOT, p), join(dir, p), { recursive: true });
  return dir;
}
function edit(dir: string, file: string, from: string, to: string): void {
  const path = join(dir, file);
  const text = readFileSync(path, 'utf8');
  expect(text).toContain(from);
  writeFileSync(path, text.replace(from, to));
}
async function findings(dir: string): Promise<string[]> {
  const sections = await validateDeploy({ root: dir, kubectl: false });
  return sections.flatMap((s) => s.findings.map((f) => `${s.name}: ${formatFinding(f)}`));
}

describe('validate:deploy', () => {
  it('passes on the repository as committed', async () => {
    expect(await findings(copyTree())).toEqual([]);
  });

  it('fails on a typo in the base Deployment, in every overlay that uses it', async () => {
    const dir = copyTree();
    edit(dir, 'k8s/base/deployment.yaml', 'readOnlyRootFilesystem: true', 'readOnlyRootFilesytem: true');
    const out = await findings(dir);
    expect(
      out.filter((f) => /readOnlyRootFilesytem: unknown field/.test(f)).map((f) => f.split(':')[0]),
    ).toEqual(['k8s/base', 'k8s/overlays/dev', 'k8s/overlays/prod']);
    // ...and the security check notices the property is gone
    expect(out.some((f) => /readOnlyRootFilesystem: must be true/.test(f))).toBe(true);
  });

  it('fails on a wrong type in an overlay patch', async () => {
    const dir = copyTree();
    edit(dir, 'k8s/overlays/prod/scaledobject.yaml', 'maxReplicaCount: 24', 'maxReplicaCount: "24"');
    expect(await findings(dir)).toEqual([
      expect.stringMatching(
        /^k8s\/overlays\/prod: ScaledObject\/streamsink-worker: schema: .*maxReplicaCount must be integer/,
      ),
    ]);
  });

  it('fails when a kustomization cannot render', async () => {
    const dir = copyTree();
    edit(dir, 'k8s/overlays/dev/kustomization.yaml', 'namespace: streamsink-dev', 'namePrefix: dev-');
    expect((await findings(dir)).join('\n')).toMatch(/overlays\/dev: .*namePrefix.*not supported/);
  });

  it('fails on an unhardened compose service', async () => {
    const compose = readFileSync(join(ROOT, 'compose.yaml'), 'utf8');
    expect(checkCompose(compose)).toEqual([]);
    const messages = (t: string) => checkCompose(t).map(formatFinding).join('\n');
    expect(messages(compose.replace('read_only: true', 'read_only: false'))).toMatch(
      /read_only: must be true/,
    );
    expect(messages(compose.replace('stop_grace_period: 35s', 'stop_grace_period: 10s'))).toMatch(/25 s/);
    expect(messages(compose.replace('service_completed_successfully', 'service_started'))).toMatch(/migrate/);
    expect(messages(compose.replace('redis:7.4.2-bookworm', 'redis:latest'))).toMatch(/pin a version/);
  });
});
