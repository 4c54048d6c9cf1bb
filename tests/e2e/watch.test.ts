// Watch-driven convergence: the operator reacts to namespaces, secrets, ServiceAccounts and
// deletions within seconds, from its cached token, without waiting for the next refresh.
import {
  afterReconcile,
  applySync,
  createNamespace,
  deleteSync,
  dockerConfig,
  ecrControl,
  eventually,
  getSync,
  httpGet,
  installCrds,
  kube,
  readSecret,
  stackSpec,
  startOperator,
  touchNamespace,
  uniqueName,
  type OperatorProcess,
} from './support.ts';

const { kc, core, custom } = kube();
let operator: OperatorProcess;
const label = uniqueName('watch');
let sync: string;

async function tokenCalls(): Promise<number> {
  const { body } = await httpGet(`http://127.0.0.1:${await operator.metricsPort()}/metrics`);
  const line = body.split('\n').find((l) => l.startsWith('ecrsync_aws_api_calls_total{api="GetAuthorizationToken",result="success"}'));
  return Number(line?.split(' ')[1] ?? 0);
}

async function noSecret(ns: string, name = 'regcred'): Promise<boolean> {
  return (await readSecret(core, ns, name)) === undefined;
}

beforeAll(async () => {
  await installCrds(kc);
  operator = await startOperator();
  await operator.probePort();
  sync = uniqueName('watch');
  await applySync(custom, sync, { ...stackSpec([]), namespaces: { selector: { matchLabels: { [label]: 'yes' } } }, serviceAccounts: ['default', 'builder'] });
  await eventually('sync reconciled', async () => (await getSync(custom, sync))?.status?.lastRefreshTime);
});

afterAll(async () => {
  await deleteSync(custom, sync);
  expect(await operator.stop()).toBe(0);
});

describe('watch-driven convergence', () => {
  it('gives a new matching namespace its secret within seconds, from the cached token', async () => {
    const calls = await tokenCalls();
    const ns = uniqueName('new');
    const started = Date.now();
    await createNamespace(core, ns, { [label]: 'yes' });
    const secret = await eventually('secret in the new namespace', () => readSecret(core, ns, 'regcred'), 10_000, 50);
    expect(Date.now() - started).toBeLessThan(5000);
    const token = await ecrControl().lookupToken(dockerConfig(secret).auths['222222222222.dkr.ecr.us-east-1.amazonaws.com']!.password);
    expect(token).toMatchObject({ principal: expect.stringMatching(/^arn:aws:sts::222222222222:/), region: 'us-east-1', state: 'valid' });
    expect(await tokenCalls()).toBe(calls);
  });

  it('gives a relabelled namespace its secret, and removes it when the namespace stops matching', async () => {
    const ns = uniqueName('relabel');
    const anchor = uniqueName('relabel-anchor');
    await createNamespace(core, anchor, { [label]: 'yes' });
    await eventually('secret in the anchor namespace', () => readSecret(core, anchor, 'regcred'), 10_000, 50);
    // Reconciles that had the new, unlabelled namespace in their cache write nothing there.
    await afterReconcile(operator, sync, () => createNamespace(core, ns), (n) => touchNamespace(core, anchor, n));
    expect(await noSecret(ns)).toBe(true);
    const before = await core.readNamespace({ name: ns });
    await core.replaceNamespace({ name: ns, body: { ...before, metadata: { ...before.metadata, labels: { ...before.metadata?.labels, [label]: 'yes' } } } });
    await eventually('secret after relabel', () => readSecret(core, ns, 'regcred'), 10_000, 50);
    const current = await core.readNamespace({ name: ns });
    const labels = { ...current.metadata?.labels };
    delete labels[label];
    await core.replaceNamespace({ name: ns, body: { ...current, metadata: { ...current.metadata, labels } } });
    await eventually('secret removed after unlabel', () => noSecret(ns), 10_000, 50);
  });

  it('restores a managed secret that someone deleted', async () => {
    const ns = uniqueName('restore');
    await createNamespace(core, ns, { [label]: 'yes' });
    const first = await eventually('secret', () => readSecret(core, ns, 'regcred'), 10_000, 50);
    await core.deleteNamespacedSecret({ namespace: ns, name: 'regcred' });
    const again = await eventually('secret restored', async () => {
      const s = await readSecret(core, ns, 'regcred');
      return s && s.metadata?.uid !== first.metadata?.uid ? s : undefined;
    }, 10_000, 50);
    expect(again.data).toEqual(first.data);
  });

  it('repairs a managed secret that was edited by hand', async () => {
    const ns = uniqueName('tamper');
    await createNamespace(core, ns, { [label]: 'yes' });
    const good = await eventually('secret', () => readSecret(core, ns, 'regcred'), 10_000, 50);
    const tampered = { ...good, data: { '.dockerconfigjson': Buffer.from('{"auths":{"evil.example.com":{"auth":"eDp5"}}}').toString('base64') } };
    await core.replaceNamespacedSecret({ namespace: ns, name: 'regcred', body: tampered });
    const repaired = await eventually('secret repaired', async () => {
      const s = await readSecret(core, ns, 'regcred');
      return s?.data?.['.dockerconfigjson'] === good.data?.['.dockerconfigjson'] ? s : undefined;
    }, 10_000, 50);
    expect(repaired.metadata?.labels?.['app.kubernetes.io/managed-by']).toBe('ecr-credential-sync');
  });

  it('adds the secret to chosen ServiceAccounts, also those created later, and only to those', async () => {
    const ns = uniqueName('accounts');
    await createNamespace(core, ns, { [label]: 'yes' });
    await eventually('default account lists regcred', async () => {
      const sa = await core.readNamespacedServiceAccount({ namespace: ns, name: 'default' });
      return sa.imagePullSecrets?.some((r) => r.name === 'regcred');
    }, 15_000, 100);
    await core.createNamespacedServiceAccount({ namespace: ns, body: { metadata: { name: 'builder' }, imagePullSecrets: [{ name: 'mine' }] } });
    await core.createNamespacedServiceAccount({ namespace: ns, body: { metadata: { name: 'other' } } });
    const builder = await eventually('builder lists regcred after its own entry', async () => {
      const sa = await core.readNamespacedServiceAccount({ namespace: ns, name: 'builder' });
      return sa.imagePullSecrets?.some((r) => r.name === 'regcred') ? sa : undefined;
    }, 10_000, 100);
    expect(builder.imagePullSecrets?.map((r) => r.name)).toEqual(['mine', 'regcred']);
    const other = await core.readNamespacedServiceAccount({ namespace: ns, name: 'other' });
    expect(other.imagePullSecrets ?? []).toEqual([]);
  });

  it('deleting the sync removes its secrets and only its own ServiceAccount entries, then the sync itself', async () => {
    const ns = uniqueName('cleanup');
    await createNamespace(core, ns);
    await core.createNamespacedServiceAccount({ namespace: ns, body: { metadata: { name: 'builder' }, imagePullSecrets: [{ name: 'mine' }] } });
    const name = uniqueName('cleanup');
    await applySync(custom, name, stackSpec([ns], { serviceAccounts: ['builder'], secretName: 'cleanup-cred' }));
    await eventually('secret', () => readSecret(core, ns, 'cleanup-cred'), 10_000, 50);
    await eventually('account patched', async () => (await core.readNamespacedServiceAccount({ namespace: ns, name: 'builder' })).imagePullSecrets?.length === 2);
    expect((await getSync(custom, name))?.metadata.finalizers).toContain('ecrsync.io/cleanup');
    await deleteSync(custom, name);
    await eventually('sync gone', async () => !(await getSync(custom, name)), 15_000, 100);
    expect(await noSecret(ns, 'cleanup-cred')).toBe(true);
    const builder = await core.readNamespacedServiceAccount({ namespace: ns, name: 'builder' });
    expect(builder.imagePullSecrets?.map((r) => r.name)).toEqual(['mine']);
    expect(builder.metadata?.annotations?.['ecrsync.io/image-pull-secrets']).toBeUndefined();
  });
});
