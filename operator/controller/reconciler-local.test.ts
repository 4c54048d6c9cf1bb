// LocalEcrCredentialSync through the shared reconciler: one namespace, its own ServiceAccount,
// its own label, and no way to reach past its namespace.
import { ANNOTATION_PULL_SECRETS, FINALIZER, LABEL_LOCAL_SYNC, LABEL_MANAGED_BY, LABEL_SYNC, Reason, ROLE_ARN_ANNOTATION } from '../api/constants.ts';
import { API_VERSION, type LocalEcrCredentialSync } from '../api/types.ts';
import { findCondition } from '../core/conditions.ts';
import { createLogger } from '../runtime/log.ts';
import { FakeClock, FakeKube, FakeTokens, makeSync, RecordingMetrics } from '../testing/fakes.ts';
import { Reconciler, type ReconcilerOptions } from './reconciler.ts';

const REGISTRIES = [{ accountId: '111111111111', region: 'us-east-1' }];
const SA_ROLE = 'arn:aws:iam::333333333333:role/cf-dev-ecr';
const KEY = 'cf-dev/ecr';

function local(spec: Record<string, unknown>, name = 'ecr', namespace = 'cf-dev'): LocalEcrCredentialSync {
  return { apiVersion: API_VERSION, kind: 'LocalEcrCredentialSync', metadata: { name, namespace }, spec: spec as unknown as LocalEcrCredentialSync['spec'] };
}

function setup(options: ReconcilerOptions = {}) {
  const clock = new FakeClock('2025-01-15T01:23:45.678Z');
  const kube = new FakeKube();
  for (const ns of ['cf-dev', 'team-b', 'kube-system']) kube.addNamespace(ns);
  for (const ns of ['cf-dev', 'team-b']) {
    kube.serviceAccounts.set(`${ns}/ecr-sa`, { namespace: ns, name: 'ecr-sa', imagePullSecrets: [], annotations: { [ROLE_ARN_ANNOTATION]: SA_ROLE }, resourceVersion: '1' });
    kube.serviceAccounts.set(`${ns}/default`, { namespace: ns, name: 'default', imagePullSecrets: [], annotations: {}, resourceVersion: '1' });
  }
  const tokens = new FakeTokens(clock);
  const reconciler = new Reconciler({ kube, tokens, clock, metrics: new RecordingMetrics(), log: createLogger('silent'), options });
  const ready = (key = KEY) => findCondition(kube.sync(key)?.status?.conditions, 'Ready');
  return { clock, kube, tokens, reconciler, ready };
}

const WITH_SA = { registries: REGISTRIES, identity: { serviceAccountRef: { name: 'ecr-sa' } } };

describe('Reconciler: a LocalEcrCredentialSync', () => {
  it('writes its secret into its own namespace only, labelled and owned as the local kind', async () => {
    const t = setup();
    t.kube.addLocalSync(local(WITH_SA));
    expect((await t.reconciler.reconcile(KEY)).error).toBeUndefined();
    expect([...t.kube.secrets.keys()]).toEqual(['cf-dev/regcred']);
    const secret = t.kube.secret('cf-dev', 'regcred')!;
    expect(secret.labels).toEqual({ [LABEL_MANAGED_BY]: 'ecr-credential-sync', [LABEL_LOCAL_SYNC]: 'ecr' });
    expect(secret.ownerReferences).toEqual([expect.objectContaining({ kind: 'LocalEcrCredentialSync', name: 'ecr', controller: true })]);
    expect(t.ready()).toMatchObject({ status: 'True', reason: Reason.Synced });
    expect(t.kube.sync(KEY)!.status!.namespaces).toEqual({ targeted: 1, synced: 1, failed: 0 });
    expect(t.kube.sync(KEY)!.metadata.finalizers).toEqual([FINALIZER]);
  });

  it("fetches with its own namespace's ServiceAccount, even when its spec names another namespace", async () => {
    const t = setup();
    t.kube.addLocalSync(local({ registries: REGISTRIES, identity: { serviceAccountRef: { name: 'ecr-sa', namespace: 'team-b' } }, namespaces: { names: ['team-b'] } }));
    await t.reconciler.reconcile(KEY);
    expect(t.tokens.requests.map((r) => r.chain.base)).toEqual([expect.objectContaining({ kind: 'serviceAccount', namespace: 'cf-dev', name: 'ecr-sa' })]);
    expect([...t.kube.secrets.keys()]).toEqual(['cf-dev/regcred']);
  });

  it("is InvalidSpec without a ServiceAccount, and calls no AWS API: the operator's identity is not for tenants", async () => {
    const t = setup();
    t.kube.addLocalSync(local({ registries: REGISTRIES }));
    await t.reconciler.reconcile(KEY);
    expect(t.ready()).toMatchObject({ status: 'False', reason: Reason.InvalidSpec });
    expect(t.ready()!.message).toContain('--allow-local-operator-identity');
    expect(t.tokens.total).toBe(0);
    expect(t.kube.secrets.size).toBe(0);
  });

  it("uses the operator's identity when the administrator allows it", async () => {
    const t = setup({ allowLocalOperatorIdentity: true });
    t.kube.addLocalSync(local({ registries: REGISTRIES }));
    await t.reconciler.reconcile(KEY);
    expect(t.ready()).toMatchObject({ status: 'True' });
    expect(t.tokens.requests.map((r) => r.chain.base.kind)).toEqual(['environment']);
  });

  it('adds its secret to ServiceAccounts of its namespace only, recorded under its key', async () => {
    const t = setup();
    t.kube.addLocalSync(local({ ...WITH_SA, serviceAccounts: ['*'] }));
    await t.reconciler.reconcile(KEY);
    expect(t.kube.serviceAccounts.get('cf-dev/default')).toMatchObject({ imagePullSecrets: ['regcred'], annotations: { [ANNOTATION_PULL_SECRETS]: JSON.stringify({ [KEY]: 'regcred' }) } });
    expect(t.kube.serviceAccounts.get('team-b/default')!.imagePullSecrets).toEqual([]);
  });

  it('and a cluster sync of the same name each keep their own secrets: neither deletes the other', async () => {
    const t = setup();
    t.kube.addSync(makeSync('ecr', { registries: REGISTRIES, namespaces: { names: ['team-b'] } }));
    t.kube.addLocalSync(local(WITH_SA));
    for (let i = 0; i < 2; i++) for (const key of ['ecr', KEY]) expect((await t.reconciler.reconcile(key)).error).toBeUndefined();
    expect([...t.kube.secrets.keys()].sort()).toEqual(['cf-dev/regcred', 'team-b/regcred']);
    expect(t.kube.secret('team-b', 'regcred')!.labels).toMatchObject({ [LABEL_SYNC]: 'ecr' });
    expect(t.kube.secret('cf-dev', 'regcred')!.labels).toMatchObject({ [LABEL_LOCAL_SYNC]: 'ecr' });
    expect(t.kube.secretWrites().filter((w) => w.op === 'deleteSecret')).toEqual([]);
  });

  it('reports a conflict, naming the cluster sync, where one already writes the same secret', async () => {
    const t = setup();
    t.kube.addSync(makeSync('central', { registries: REGISTRIES, namespaces: { names: ['cf-dev'] } }));
    await t.reconciler.reconcile('central');
    t.kube.addLocalSync(local(WITH_SA));
    await t.reconciler.reconcile(KEY);
    expect(t.ready()).toMatchObject({ status: 'False', reason: Reason.SecretConflict });
    expect(t.kube.sync(KEY)!.status!.failures![0]!.message).toContain('EcrCredentialSync central');
    expect(t.kube.secret('cf-dev', 'regcred')!.labels).toMatchObject({ [LABEL_SYNC]: 'central' });
  });

  it('after a restart over a converged namespace learns its token back from its secret: no fetch, no write', async () => {
    const t = setup();
    t.kube.addLocalSync(local(WITH_SA));
    await t.reconciler.reconcile(KEY);
    t.clock.advance(60 * 60_000);
    const writes = t.kube.writes.length;
    const restarted = new Reconciler({ kube: t.kube, tokens: t.tokens, clock: t.clock, metrics: new RecordingMetrics(), log: createLogger('silent') });
    expect((await restarted.reconcile(KEY)).error).toBeUndefined();
    expect(t.tokens.total).toBe(1);
    expect(t.kube.writes.slice(writes)).toEqual([]);
  });

  it('reads whole a secret of its own that the cache holds without data (cached before the sync was known), instead of patching it on every reconcile', async () => {
    const t = setup();
    t.kube.addLocalSync(local(WITH_SA));
    await t.reconciler.reconcile(KEY);
    t.kube.trimmedInList.add('cf-dev/regcred');
    const writes = t.kube.writes.length;
    for (let i = 0; i < 3; i++) expect((await t.reconciler.reconcile(KEY)).error).toBeUndefined();
    expect(t.kube.writes.slice(writes)).toEqual([]);
  });

  it('removes its secret and its ServiceAccount entry when deleted, and then lets go', async () => {
    const t = setup();
    t.kube.addLocalSync(local({ ...WITH_SA, serviceAccounts: ['default'] }));
    await t.reconciler.reconcile(KEY);
    t.kube.deleteSync(KEY, t.clock.now());
    expect((await t.reconciler.reconcile(KEY)).error).toBeUndefined();
    expect(t.kube.secrets.size).toBe(0);
    expect(t.kube.serviceAccounts.get('cf-dev/default')!.imagePullSecrets).toEqual([]);
    expect(t.kube.sync(KEY)).toBeUndefined();
  });
});
