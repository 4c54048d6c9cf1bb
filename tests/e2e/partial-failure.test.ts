// Partial failure on the real API server, with real causes: an admission policy that refuses the
// operator's update in one namespace, tools that put finalizers, owners and labels on its secrets,
// a secret made immutable, AWS denying the identity, and the operator gone when its sync is deleted.
import { KubernetesObjectApi, type V1Secret } from '@kubernetes/client-node';
import { CENTRAL_PULL_ROLE } from '../stack/ecr/registries.ts';
import { run } from '../stack/run.ts';
import {
  applySync,
  createNamespace,
  deleteSync,
  ecrControl,
  eventually,
  getSync,
  installCrds,
  kube,
  MERGE_PATCH,
  OPERATOR_NAMESPACE,
  OPERATOR_SERVICE_ACCOUNT,
  patchSyncSpec,
  readSecret,
  readyCondition,
  stackEnv,
  stackSpec,
  startOperator,
  uniqueName,
} from './support.ts';

const { kc, core, custom } = kube();
const OPERATOR_USER = `system:serviceaccount:${OPERATOR_NAMESPACE}:${OPERATOR_SERVICE_ACCOUNT}`;
beforeAll(() => installCrds(kc));

/** The registries of stackSpec plus one more hostname: new data for every secret. */
const withMirror = (id: string) => ({ registries: [{ accountId: '222222222222', region: 'us-east-1', hostnames: [stackEnv('STACK_REGISTRY'), `mirror-${id}.dkr.ecr.us-east-1.amazonaws.com`] }] });
const hosts = (secret: V1Secret | undefined) => Object.keys(JSON.parse(Buffer.from(secret?.data?.['.dockerconfigjson'] ?? 'e30=', 'base64').toString()).auths ?? {});
const pullSecrets = async (namespace: string) => (await core.readNamespacedServiceAccount({ namespace, name: 'default' })).imagePullSecrets?.map((r) => r.name);

it('keeps a namespace\'s ServiceAccount entry while an admission policy refuses the operator\'s update there, and converges once it is gone', async () => {
  const operator = await startOperator(['--max-backoff=3s']);
  const id = uniqueName('vap');
  const [denied, open] = [`${id}-denied`, `${id}-open`];
  const api = KubernetesObjectApi.makeApiClient(kc);
  const policy = {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'ValidatingAdmissionPolicy',
    metadata: { name: id },
    spec: {
      failurePolicy: 'Fail',
      matchConstraints: { resourceRules: [{ apiGroups: [''], apiVersions: ['v1'], operations: ['UPDATE'], resources: ['secrets'] }] },
      validations: [{ expression: `request.userInfo.username != '${OPERATOR_USER}'`, message: 'secrets here are frozen for the operator', reason: 'Forbidden' }],
    },
  };
  const binding = {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'ValidatingAdmissionPolicyBinding',
    metadata: { name: id },
    spec: { policyName: id, validationActions: ['Deny'], matchResources: { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': denied } } } },
  };
  try {
    for (const ns of [denied, open]) await createNamespace(core, ns);
    await applySync(custom, id, stackSpec([denied, open], { serviceAccounts: ['default'] }));
    for (const ns of [denied, open]) await eventually(`${ns}/default lists regcred`, async () => (await pullSecrets(ns).catch(() => undefined))?.includes('regcred'));
    await api.create(policy as never);
    await api.create(binding as never);
    // In force once the API server refuses the operator's own (dry-run) update there.
    await eventually('policy in force', async () => {
      const probe = await run('kubectl', ['label', 'secret', 'regcred', '-n', denied, 'probe=1', '--dry-run=server', `--as=${OPERATOR_USER}`]);
      return probe.code !== 0 && probe.stderr.includes('frozen');
    });

    await patchSyncSpec(custom, id, withMirror(id));
    const failing = await eventually('the failure reported', async () => {
      const sync = await getSync(custom, id);
      return sync?.status?.observedGeneration === 2 && sync.status.failures?.some((f) => f.namespace === denied) ? sync : undefined;
    });
    expect(failing.status!.failures).toEqual([{ namespace: denied, reason: 'SecretWriteFailed', message: expect.stringContaining('HTTP 403') }]);
    expect(readyCondition(failing)).toMatchObject({ status: 'False', reason: 'SecretWriteFailed' });
    expect(hosts(await readSecret(core, open, 'regcred'))).toContain(`mirror-${id}.dkr.ecr.us-east-1.amazonaws.com`);
    // The secret there still works with the current token, and pods created meanwhile still get it.
    expect(await pullSecrets(denied)).toEqual(['regcred']);

    await api.delete(binding as never);
    await api.delete(policy as never);
    await eventually('converged once the policy is gone', async () => hosts(await readSecret(core, denied, 'regcred')).includes(`mirror-${id}.dkr.ecr.us-east-1.amazonaws.com`), 60_000);
    await eventually('Ready', async () => readyCondition(await getSync(custom, id))?.status === 'True');
    expect(await pullSecrets(denied)).toEqual(['regcred']);
  } finally {
    await api.delete(binding as never).catch(() => undefined);
    await api.delete(policy as never).catch(() => undefined);
    await deleteSync(custom, id);
    expect(await operator.stop()).toBe(0);
  }
});

it('keeps the finalizer, owner and labels others put on a managed secret across a refresh, and replaces one made immutable', async () => {
  const operator = await startOperator();
  const id = uniqueName('keep');
  const [shared, frozen] = [`${id}-shared`, `${id}-frozen`];
  try {
    for (const ns of [shared, frozen]) await createNamespace(core, ns);
    const sync = await applySync(custom, id, stackSpec([shared, frozen]));
    for (const ns of [shared, frozen]) await eventually(`${ns}/regcred`, () => readSecret(core, ns, 'regcred'));
    const owner = await core.createNamespacedConfigMap({ namespace: shared, body: { metadata: { name: 'app' } } });
    const secret = (await readSecret(core, shared, 'regcred'))!;
    expect(secret.metadata!.ownerReferences).toEqual([
      { apiVersion: 'ecrsync.io/v1alpha1', kind: 'EcrCredentialSync', name: id, uid: sync.metadata.uid, controller: true },
    ]);
    const foreignOwner = { apiVersion: 'v1', kind: 'ConfigMap', name: 'app', uid: owner.metadata!.uid! };
    await core.replaceNamespacedSecret({
      namespace: shared,
      name: 'regcred',
      body: {
        ...secret,
        metadata: {
          ...secret.metadata,
          finalizers: ['example.com/keep'],
          ownerReferences: [...secret.metadata!.ownerReferences!, foreignOwner],
          labels: { ...secret.metadata!.labels, 'example.com/team': 'a' },
        },
      },
    });
    const immutable = (await readSecret(core, frozen, 'regcred'))!;
    await core.replaceNamespacedSecret({ namespace: frozen, name: 'regcred', body: { ...immutable, immutable: true } });

    await patchSyncSpec(custom, id, withMirror(id));
    const mirror = `mirror-${id}.dkr.ecr.us-east-1.amazonaws.com`;
    const kept = await eventually('shared secret refreshed', async () => {
      const s = await readSecret(core, shared, 'regcred');
      return hosts(s).includes(mirror) ? s : undefined;
    });
    expect(kept.metadata!.finalizers).toEqual(['example.com/keep']);
    expect(kept.metadata!.ownerReferences!.map((r) => r.uid)).toEqual([sync.metadata.uid, owner.metadata!.uid]);
    expect(kept.metadata!.labels).toMatchObject({ 'example.com/team': 'a' });

    const replaced = await eventually('immutable secret replaced', async () => {
      const s = await readSecret(core, frozen, 'regcred');
      return hosts(s).includes(mirror) ? s : undefined;
    });
    expect(replaced.metadata!.uid).not.toBe(immutable.metadata!.uid);
    expect(replaced.immutable).toBeFalsy();
    // The Event follows the writes of that reconcile: it may arrive just after the new secret.
    const said = await eventually('the SecretReplaced event', async () => {
      const events = await core.listNamespacedEvent({ namespace: 'default', fieldSelector: `involvedObject.name=${id}` });
      const lines = events.items.map((e) => `${e.reason}: ${e.message}`);
      return lines.some((l) => l.startsWith('SecretReplaced:')) ? lines : undefined;
    }, 10_000);
    expect(said).toContainEqual(expect.stringMatching(/^SecretReplaced: .*immutable/));
    await eventually('Ready', async () => readyCondition(await getSync(custom, id))?.status === 'True');
  } finally {
    await core.patchNamespacedSecret({ namespace: shared, name: 'regcred', body: { metadata: { finalizers: null } } }, MERGE_PATCH).catch(() => undefined);
    await deleteSync(custom, id);
    expect(await operator.stop()).toBe(0);
  }
});

it('makes no AWS call for 100 namespace events while the identity is denied, and says when it will try again', async () => {
  const operator = await startOperator();
  const control = ecrControl();
  const id = uniqueName('denied');
  const session = `e2e-${id}`;
  const principal = `arn:aws:sts::111111111111:assumed-role/CentralECRPullRole/${session}`;
  const [first, second] = [`${id}-a`, `${id}-b`];
  const since = Date.now();
  const calls = async () => (await control.calls(since)).filter((c) => c.principal === principal);
  await control.deny(principal);
  try {
    await createNamespace(core, first, { [id]: 'yes' });
    await createNamespace(core, second);
    await applySync(custom, id, {
      registries: [{ accountId: '111111111111', region: 'us-east-1', assumeRole: { roleArn: CENTRAL_PULL_ROLE, sessionName: session } }],
      namespaces: { selector: { matchLabels: { [id]: 'yes' } } },
    });
    const failed = await eventually('backoff recorded', async () => {
      const s = await getSync(custom, id);
      return s?.status?.backoff ? s : undefined;
    });
    expect(failed.status!.backoff).toMatchObject({ failures: 1, retryable: false, message: expect.stringContaining('AccessDenied') });
    expect(failed.status!.nextRefreshTime).toBe(failed.status!.backoff!.nextAttemptTime);
    expect(Date.parse(failed.status!.backoff!.nextAttemptTime) - Date.now()).toBeGreaterThan(8 * 60_000);
    expect((await calls()).map((c) => c.result)).toEqual(['AccessDeniedException']);

    for (let i = 0; i < 100; i++) await core.patchNamespace({ name: first, body: { metadata: { labels: { [`${id}-n`]: String(i) } } } }, MERGE_PATCH);
    // The operator has handled them all once a reconcile sees the namespace labelled after them.
    await core.patchNamespace({ name: second, body: { metadata: { labels: { [id]: 'yes' } } } }, MERGE_PATCH);
    await eventually('both namespaces targeted', async () => (await getSync(custom, id))?.status?.namespaces?.targeted === 2);
    expect(await calls()).toHaveLength(1);
    expect((await getSync(custom, id))!.status!.backoff!.failures).toBe(1);
  } finally {
    await control.undeny(principal);
    await deleteSync(custom, id);
    expect(await operator.stop()).toBe(0);
  }
});

it('leaves no secret behind when its sync is deleted while the operator is away: the garbage collector removes it', async () => {
  const operator = await startOperator();
  const id = uniqueName('orphan');
  try {
    await createNamespace(core, id);
    await applySync(custom, id, stackSpec([id]));
    await eventually('secret', () => readSecret(core, id, 'regcred'));
    expect(await operator.stop()).toBe(0);
    await custom.patchClusterCustomObject(
      { group: 'ecrsync.io', version: 'v1alpha1', plural: 'ecrcredentialsyncs', name: id, body: { metadata: { finalizers: null } } },
      MERGE_PATCH,
    );
    await deleteSync(custom, id);
    await eventually('secret collected', async () => !(await readSecret(core, id, 'regcred')), 60_000);
  } finally {
    await deleteSync(custom, id);
    await operator.stop();
  }
});
