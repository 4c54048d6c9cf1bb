// helm install, upgrade and uninstall of the chart on the stack with no replicas: the release's
// objects, on any machine. deploy-helm.test.ts runs the built image on the node.
import { CHART, helm, kubectl, parseAll } from './helm.ts';
import { kube, uniqueName } from './support.ts';

const { core } = kube();
const namespace = uniqueName('helm-install');
const release = uniqueName('hi');
const fullname = `${release}-ecr-credential-sync`;
let manifest = '';

beforeAll(async () => {
  const restricted = { 'pod-security.kubernetes.io/enforce': 'restricted', 'pod-security.kubernetes.io/warn': 'restricted' };
  await core.createNamespace({ body: { metadata: { name: namespace, labels: restricted } } });
});

afterAll(async () => {
  await helm(['uninstall', release, '--namespace', namespace, '--ignore-not-found']);
  await core.deleteNamespace({ name: namespace });
});

it('helm install creates every object of the release and prints what to apply next', async () => {
  const roleArn = 'arn:aws:iam::222222222222:role/ecr-credential-sync';
  const result = await helm(['install', release, CHART, '--namespace', namespace, '--set', `replicaCount=0,serviceAccount.roleArn=${roleArn}`]);
  expect(result.stderr).toBe('');
  expect(result.code).toBe(0);
  expect(result.stdout).toMatch(/STATUS: deployed/);
  expect(result.stdout).toMatch(/kind: EcrCredentialSync/);
  expect(result.stdout).toMatch(/kubectl get ecrsync/);
  expect(result.stdout).toMatch(/kubectl apply --server-side --force-conflicts -f <this chart>\/crds\//);
  // The sample sync NOTES suggests is one the API server accepts.
  const sample = /cat <<'YAML' \| kubectl apply -f -\n([\s\S]*?)\n\s*YAML\n/.exec(result.stdout)?.[1];
  expect(sample).toBeDefined();
  const dryRun = await kubectl(['apply', '--dry-run=server', '-f', '-'], sample!.replace(/^ {5}/gm, ''));
  expect(dryRun.stderr).toBe('');
  expect(dryRun.stdout).toMatch(/ecrcredentialsync.ecrsync.io\/my-registry created \(server dry run\)/);

  manifest = (await helm(['get', 'manifest', release, '--namespace', namespace])).stdout;
  const objects = parseAll(manifest);
  expect(objects.length).toBeGreaterThanOrEqual(20);
  const found = await kubectl(['get', '-f', '-', '-o', 'name'], manifest);
  expect(found.stderr).toBe('');
  expect(found.stdout.trim().split('\n')).toHaveLength(objects.length);
  const sa = await core.readNamespacedServiceAccount({ namespace, name: fullname });
  expect(sa.metadata?.annotations?.['eks.amazonaws.com/role-arn']).toBe(roleArn);
  expect(sa.metadata?.annotations?.['meta.helm.sh/release-name']).toBe(release);
});

it('helm upgrade with a changed value changes the Deployment', async () => {
  const result = await helm(['upgrade', release, CHART, '--namespace', namespace, '--reuse-values', '--set', 'logLevel=debug']);
  expect(result.stderr).toBe('');
  expect(result.stdout).toMatch(/REVISION: 2/);
  const deployment = parseAll((await kubectl(['get', 'deployment', fullname, '--namespace', namespace, '-o', 'yaml'])).stdout)[0]!;
  expect(deployment.spec.replicas).toBe(0);
  expect(deployment.spec.template.spec.containers[0].args).toContain('--log-level=debug');
});

it('helm uninstall leaves nothing of the release behind but the CRDs', async () => {
  const result = await helm(['uninstall', release, '--namespace', namespace, '--wait', '--timeout', '60s']);
  expect(result.code).toBe(0);
  const left = await kubectl(['get', '-f', '-', '-o', 'name', '--ignore-not-found'], manifest);
  expect(left.stderr).toBe('');
  expect(left.stdout).toBe('');
  // Helm's own record of the release (its Secrets) is gone too.
  const secrets = await core.listNamespacedSecret({ namespace, labelSelector: `owner=helm,name=${release}` });
  expect(secrets.items).toEqual([]);
  const crds = await kubectl(['get', 'crd', 'ecrcredentialsyncs.ecrsync.io', 'localecrcredentialsyncs.ecrsync.io', '-o', 'name']);
  expect(crds.stdout.trim().split('\n')).toHaveLength(2);
});
