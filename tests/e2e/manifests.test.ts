// manifests/ applies cleanly, under the restricted Pod Security profile, with no warnings.
import { join } from 'node:path';
import { loadAllYaml, type V1Deployment } from '@kubernetes/client-node';
import { readFileSync } from 'node:fs';
import { run } from '../stack/run.ts';
import { ROOT, kube, stackEnv, uniqueName } from './support.ts';

const kubectl = () => join(stackEnv('STACK_BIN_DIR'), 'kubectl');
const { core } = kube();

it('kubectl apply -f crds/ and then the kustomize base (manifests/) succeed with no warnings', async () => {
  const crds = await run(kubectl(), ['apply', '-f', join(ROOT, 'crds')]);
  expect([crds.code, crds.stderr.split('\n').filter((l) => l.trim() && !l.includes('last-applied-configuration'))]).toEqual([0, []]);
  // As `kubectl apply -k manifests/`, but with no replicas: the base names an image no registry here
  // serves (deploy-manifests.test.ts runs the built one with an overlay).
  const rendered = await run(kubectl(), ['kustomize', join(ROOT, 'manifests')]);
  expect(rendered.code).toBe(0);
  const noReplicas = rendered.stdout.replace(/^ {2}replicas: 2$/m, '  replicas: 0');
  expect(noReplicas).not.toBe(rendered.stdout);
  const result = await run(kubectl(), ['apply', '-f', '-'], { input: noReplicas });
  // Other tests create the CRD through the API, so kubectl notes once that it adds its annotation.
  const warnings = result.stderr.split('\n').filter((l) => l.trim() && !l.includes('last-applied-configuration'));
  expect(warnings).toEqual([]);
  expect(result.code).toBe(0);
  expect(result.stdout).toMatch(/deployment.apps\/ecr-credential-sync (created|configured|unchanged)/);
  const ns = await core.readNamespace({ name: 'ecr-credential-sync' });
  expect(ns.metadata?.labels?.['pod-security.kubernetes.io/enforce']).toBe('restricted');
});

it('the operator pod passes the restricted profile, and the profile is really enforced', async () => {
  const deployment = (loadAllYaml(readFileSync(join(ROOT, 'manifests/03-deployment.yaml'), 'utf8')) as V1Deployment[])[0]!;
  const pod = { metadata: { name: uniqueName('operator-pod') }, spec: deployment.spec!.template.spec! };
  await expect(core.createNamespacedPod({ namespace: 'ecr-credential-sync', body: pod, dryRun: 'All' })).resolves.toBeDefined();
  const loose = structuredClone(pod);
  loose.spec.containers[0]!.securityContext = { ...loose.spec.containers[0]!.securityContext, allowPrivilegeEscalation: true };
  await expect(core.createNamespacedPod({ namespace: 'ecr-credential-sync', body: loose, dryRun: 'All' })).rejects.toMatchObject({ code: 403 });
});

it('the samples are valid syncs of both kinds', async () => {
  // The ROSA sample is a LocalEcrCredentialSync in the team's namespace, which must exist.
  await core.createNamespace({ body: { metadata: { name: 'cf-dev' } } }).catch((e: { code?: number }) => {
    if (e.code !== 409) throw e;
  });
  const result = await run(kubectl(), ['apply', '--dry-run=server', '-f', join(ROOT, 'manifests/samples')]);
  expect(result.stderr).toBe('');
  expect(result.stdout).toMatch(/ecrcredentialsync.ecrsync.io\/central-artifacts created \(server dry run\)/);
  expect(result.stdout).toMatch(/localecrcredentialsync.ecrsync.io\/ecr-credentials-sync created \(server dry run\)/);
});

describe.each([
  ['eks', { 'eks.amazonaws.com/role-arn': 'arn:aws:iam::111122223333:role/ecr-credential-sync', 'eks.amazonaws.com/sts-regional-endpoints': 'true' }, []],
  ['openshift', { 'eks.amazonaws.com/role-arn': 'arn:aws:iam::111122223333:role/ecr-credential-sync', 'eks.amazonaws.com/audience': 'openshift' }, ['--token-audiences=openshift']],
])('the %s overlay', (overlay, annotations, extraArgs) => {
  const dir = join(ROOT, 'config/overlays', overlay);

  it('renders the base with its ServiceAccount annotations and arguments, and no fixed UID', async () => {
    const rendered = await run(kubectl(), ['kustomize', dir]);
    expect(rendered.code).toBe(0);
    const objects = loadAllYaml(rendered.stdout) as { kind: string; metadata: { name: string; annotations?: Record<string, string> }; spec?: any }[];
    const base = loadAllYaml((await run(kubectl(), ['kustomize', join(ROOT, 'manifests')])).stdout) as { kind: string; metadata: { name: string } }[];
    expect(objects.map((o) => `${o.kind}/${o.metadata.name}`)).toEqual(base.map((o) => `${o.kind}/${o.metadata.name}`));
    expect(objects.find((o) => o.kind === 'ServiceAccount')?.metadata.annotations).toEqual(annotations);
    const pod = objects.find((o) => o.kind === 'Deployment')!.spec.template.spec;
    const baseArgs = (loadAllYaml(readFileSync(join(ROOT, 'manifests/03-deployment.yaml'), 'utf8')) as V1Deployment[])[0]!.spec!.template.spec!.containers[0]!.args!;
    expect(pod.containers[0].args).toEqual([...baseArgs, ...extraArgs]);
    expect(JSON.stringify(pod)).not.toContain('runAsUser');
  });

  it('is accepted by the API server (kubectl apply -k, server dry run)', async () => {
    const result = await run(kubectl(), ['apply', '--dry-run=server', '-k', dir]);
    expect(result.stderr.split('\n').filter((l) => l.trim() && !l.includes('last-applied-configuration'))).toEqual([]);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/serviceaccount\/ecr-credential-sync (configured|unchanged) \(server dry run\)/);
  });
});

it('grants no wildcard verbs or resources', () => {
  const rbac = readFileSync(join(ROOT, 'manifests/02-rbac.yaml'), 'utf8');
  expect(rbac).not.toMatch(/['"]?\*['"]?/);
});
