// manifests/05-admission-policy.yaml: what the operator's ServiceAccount may write is limited by the
// API server itself, beyond RBAC (which cannot scope secrets by label): even a compromised operator
// cannot create other kinds of secrets, or change or delete secrets and ServiceAccount fields it
// does not own. Every e2e suite runs the operator under this policy; here it acts against it.
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { createNamespace, eventually, installCrds, kube, MERGE_PATCH, operatorKubeconfig, uniqueName } from './support.ts';

const { kc, core } = kube();
const MANAGED = { 'app.kubernetes.io/managed-by': 'ecr-credential-sync' };
const DOCKER = { type: 'kubernetes.io/dockerconfigjson', data: { '.dockerconfigjson': Buffer.from('{"auths":{}}').toString('base64') } };
let asOperator: CoreV1Api;
let ns: string;

/** The API server's answer to a call as the operator: its HTTP status and message. */
async function answer(call: () => Promise<unknown>): Promise<{ code: number; message: string }> {
  try {
    await call();
    return { code: 200, message: '' };
  } catch (error) {
    const e = error as { code?: number; body?: string };
    return { code: e.code ?? 0, message: String((JSON.parse(e.body ?? '{}') as { message?: string }).message ?? '') };
  }
}

beforeAll(async () => {
  await installCrds(kc);
  const operatorConfig = new KubeConfig();
  operatorConfig.loadFromFile(await operatorKubeconfig());
  asOperator = operatorConfig.makeApiClient(CoreV1Api);
  ns = uniqueName('least-privilege');
  await createNamespace(core, ns);
  // The controller manager creates the namespace's default ServiceAccount a moment later; the cases below patch it.
  await eventually('the default ServiceAccount', () => core.readNamespacedServiceAccount({ namespace: ns, name: 'default' }).catch(() => undefined));
  await core.createNamespacedSecret({ namespace: ns, body: { metadata: { name: 'theirs' }, type: 'Opaque', data: { k: 'dg==' } } });
  // In force once it refuses the first forbidden call (a new policy takes a moment to load).
  await eventually('policy in force', async () => (await answer(() => asOperator.createNamespacedSecret({ namespace: ns, body: { metadata: { name: 'probe', labels: MANAGED }, type: 'Opaque' } }))).code === 403);
});

it.each<[string, () => Promise<unknown>, RegExp]>([
  ['creating an Opaque secret, even one labelled as managed', () => asOperator.createNamespacedSecret({ namespace: ns, body: { metadata: { name: 'opaque', labels: MANAGED }, type: 'Opaque' } }), /may only create kubernetes.io\/dockerconfigjson secrets/],
  ['creating a pull secret without the managed-by label', () => asOperator.createNamespacedSecret({ namespace: ns, body: { metadata: { name: 'unlabelled' }, ...DOCKER } }), /may only create kubernetes.io\/dockerconfigjson secrets that carry its managed-by label/],
  ['overwriting an unlabelled secret', () => asOperator.patchNamespacedSecret({ namespace: ns, name: 'theirs', body: { data: { k: 'b3duZWQ=' } } }, MERGE_PATCH), /may only update secrets that carry its managed-by label/],
  ['labelling an unlabelled secret as its own', () => asOperator.patchNamespacedSecret({ namespace: ns, name: 'theirs', body: { metadata: { labels: MANAGED } } }, MERGE_PATCH), /may only update secrets that carry its managed-by label/],
  ['deleting an unlabelled secret', () => asOperator.deleteNamespacedSecret({ namespace: ns, name: 'theirs' }), /may only delete secrets that carry its managed-by label/],
  ['changing a ServiceAccount\'s labels', () => asOperator.patchNamespacedServiceAccount({ namespace: ns, name: 'default', body: { metadata: { labels: { x: 'y' } } } }, MERGE_PATCH), /may change only a ServiceAccount's imagePullSecrets/],
  ['giving a ServiceAccount an owner (the garbage collector would delete it)', () => asOperator.patchNamespacedServiceAccount({ namespace: ns, name: 'default', body: { metadata: { ownerReferences: [{ apiVersion: 'v1', kind: 'ConfigMap', name: 'x', uid: '00000000-0000-0000-0000-000000000000' }] } } }, MERGE_PATCH), /may change only a ServiceAccount's imagePullSecrets/],
  ['minting a token for the API server\'s own audience', () => asOperator.createNamespacedServiceAccountToken({ namespace: ns, name: 'default', body: { spec: { audiences: ['https://kubernetes.default.svc.cluster.local'] } } }), /may mint ServiceAccount tokens only for the audiences/],
  ['minting a token with no audience (which means the API server\'s)', () => asOperator.createNamespacedServiceAccountToken({ namespace: ns, name: 'default', body: { spec: { audiences: [] } } }), /may mint ServiceAccount tokens only for the audiences/],
  ['replacing the owners of an unlabelled secret', () => asOperator.patchNamespacedSecret({ namespace: ns, name: 'theirs', body: { metadata: { ownerReferences: [{ apiVersion: 'v1', kind: 'ConfigMap', name: 'x', uid: '00000000-0000-0000-0000-000000000000' }] } } }, MERGE_PATCH), /may only update secrets that carry its managed-by label/],
  ['recording an event about someone else\'s object (events create is cluster-wide for local syncs)', () => asOperator.createNamespacedEvent({ namespace: ns, body: { metadata: { generateName: 'x.' }, involvedObject: { apiVersion: 'v1', kind: 'Pod', name: 'web', namespace: ns }, reason: 'Pulled', message: 'forged', type: 'Normal' } }), /may only record events with its own reasons about its own kinds/],
  ['recording an event about a cluster sync outside default, where a tenant would read it as its own', () => asOperator.createNamespacedEvent({ namespace: ns, body: { metadata: { generateName: 'x.' }, involvedObject: { apiVersion: 'ecrsync.io/v1alpha1', kind: 'EcrCredentialSync', name: 'ecr', namespace: ns }, reason: 'SecretsSynced', message: 'forged', type: 'Normal' } }), /may only record events with its own reasons about its own kinds/],
  ['recording an event with a reason not its own, even about a local sync of the namespace', () => asOperator.createNamespacedEvent({ namespace: ns, body: { metadata: { generateName: 'x.' }, involvedObject: { apiVersion: 'ecrsync.io/v1alpha1', kind: 'LocalEcrCredentialSync', name: 'ecr', namespace: ns }, reason: 'Killing', message: 'forged', type: 'Warning' } }), /may only record events with its own reasons about its own kinds/],
  ['changing a ServiceAccount\'s other annotations', () => asOperator.patchNamespacedServiceAccount({ namespace: ns, name: 'default', body: { metadata: { annotations: { 'eks.amazonaws.com/role-arn': 'arn:aws:iam::1:role/x' } } } }, MERGE_PATCH), /may change only a ServiceAccount's imagePullSecrets/],
])('refuses the operator %s', async (_name, call, message) => {
  expect(await answer(call)).toEqual({ code: 403, message: expect.stringMatching(message) });
});

it('lets the operator write what it owns: a labelled pull secret, its update and delete, and its ServiceAccount entry', async () => {
  await eventually('default ServiceAccount', () => core.readNamespacedServiceAccount({ namespace: ns, name: 'default' }).catch(() => undefined));
  expect(await answer(() => asOperator.createNamespacedSecret({ namespace: ns, body: { metadata: { name: 'regcred', labels: MANAGED }, ...DOCKER } }))).toEqual({ code: 200, message: '' });
  expect(await answer(() => asOperator.patchNamespacedSecret({ namespace: ns, name: 'regcred', body: { metadata: { annotations: { a: 'b' } } } }, MERGE_PATCH))).toEqual({ code: 200, message: '' });
  expect(
    await answer(() =>
      asOperator.patchNamespacedServiceAccount(
        { namespace: ns, name: 'default', body: { metadata: { annotations: { 'ecrsync.io/image-pull-secrets': '{"s":"regcred"}' } }, imagePullSecrets: [{ name: 'regcred' }] } },
        MERGE_PATCH,
      ),
    ),
  ).toEqual({ code: 200, message: '' });
  expect(await answer(() => asOperator.patchNamespacedSecret({ namespace: ns, name: 'regcred', body: { metadata: { labels: { 'app.kubernetes.io/managed-by': null } } } }, MERGE_PATCH))).toEqual({
    code: 403,
    message: expect.stringMatching(/so that they stay its own/),
  });
  expect(await answer(() => asOperator.createNamespacedServiceAccountToken({ namespace: ns, name: 'default', body: { spec: { audiences: ['sts.amazonaws.com'], expirationSeconds: 600 } } }))).toEqual({ code: 200, message: '' });
  expect(await answer(() => asOperator.deleteNamespacedSecret({ namespace: ns, name: 'regcred' }))).toEqual({ code: 200, message: '' });
  const about = (kind: string, namespace?: string) => ({ apiVersion: 'ecrsync.io/v1alpha1', kind, name: 'ecr', ...(namespace ? { namespace } : {}) });
  const event = (namespace: string, involvedObject: object) => () =>
    asOperator.createNamespacedEvent({ namespace, body: { metadata: { generateName: 'ecr.' }, involvedObject, reason: 'SecretsSynced', message: 'ok', type: 'Normal' } });
  expect(await answer(event(ns, about('LocalEcrCredentialSync', ns)))).toEqual({ code: 200, message: '' });
  expect(await answer(event('default', about('EcrCredentialSync')))).toEqual({ code: 200, message: '' });
});
