// npm run validate:deploy — offline checks of the deployment files (docs/deploy.md#offline-validation):
// renders every kustomization under k8s/ (and compares with `kubectl kustomize` when kubectl is installed),
// validates each object against the Kubernetes / KEDA schemas with unknown fields reported, asserts the
// security and wiring properties, and lints the Dockerfile, the Redis ACL file and compose.yaml.
// Exit code 1 when anything is found.
import { fileURLToPath } from 'node:url';
import { formatFinding } from './deploy/types.ts';
import { validateDeploy } from './deploy/validate.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
const noKubectl = process.argv.includes('--no-kubectl');
const sections = await validateDeploy({
  root,
  kubectl: noKubectl ? false : (process.env.KUBECTL ?? 'kubectl'),
});

let failed = 0;
for (const s of sections) {
  const status = s.findings.length === 0 ? 'ok  ' : 'FAIL';
  console.log(`${status} ${s.name}${s.notes.length > 0 ? ` (${s.notes.join('; ')})` : ''}`);
  for (const f of s.findings) console.log(`     - ${formatFinding(f)}`);
  if (s.findings.length > 0) failed += 1;
}
console.log(
  failed === 0
    ? `validate:deploy: all ${sections.length} sections clean`
    : `validate:deploy: ${failed} of ${sections.length} sections have findings`,
);
process.exitCode = failed > 0 ? 1 : 0;
