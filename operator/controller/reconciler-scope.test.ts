// Where a sync may send its token: extra hostnames only on ECR's domains or the operator's
// allowlist, and selectors never into the cluster's system namespaces.
import { Reason } from '../api/constants.ts';
import { createLogger } from '../runtime/log.ts';
import { setup, SPEC, US } from '../testing/reconciler-setup.ts';
import { Reconciler } from './reconciler.ts';

const NAMESPACES: Array<[string, Record<string, string>]> = [
  ['kube-system', { 'kubernetes.io/metadata.name': 'kube-system' }],
  ['kube-public', { 'kubernetes.io/metadata.name': 'kube-public' }],
  ['kube-node-lease', { 'kubernetes.io/metadata.name': 'kube-node-lease' }],
  ['openshift-config', { 'kubernetes.io/metadata.name': 'openshift-config' }],
  ['team-a', { 'kubernetes.io/metadata.name': 'team-a' }],
];
const EVERY = { selector: { matchExpressions: [{ key: 'kubernetes.io/metadata.name', operator: 'Exists' as const }] } };
const written = (t: ReturnType<typeof setup>) => [...t.kube.secrets.keys()].sort();

describe('Reconciler: extra hostnames', () => {
  it('a hostname outside ECR and the allowlist reports InvalidSpec at once: no token fetched, nothing written', async () => {
    const t = setup({ spec: { ...SPEC, registries: [{ accountId: '111111111111', region: 'us-east-1', hostnames: ['docker.io'] }] } });
    expect(await t.reconcile()).toEqual({});
    expect(t.tokens.total).toBe(0);
    expect(t.kube.secretWrites()).toEqual([]);
    expect(t.ready()).toMatchObject({ status: 'False', reason: Reason.InvalidSpec, message: expect.stringMatching(/^registries\[0\]\.hostnames: "docker\.io" is not an ECR host .*--allowed-hostnames \(not set\)/) });
  });

  it('a hostname the allowlist admits gets the registry\'s token', async () => {
    const t = setup({ spec: { ...SPEC, registries: [{ accountId: '111111111111', region: 'us-east-1', hostnames: ['127.0.0.1:5000'] }] }, options: { allowedHostnames: ['127.0.0.1'] } });
    await t.reconcile();
    expect(t.ready()).toMatchObject({ status: 'True' });
    const auths = t.kube.dockerConfig('team-a', 'regcred')!.auths;
    expect(auths['127.0.0.1:5000']).toEqual(auths[US]);
  });
});

describe('Reconciler: system namespaces', () => {
  it('a selector matching every namespace writes into none of the system namespaces by default', async () => {
    const t = setup({ namespaces: NAMESPACES, spec: { ...SPEC, namespaces: EVERY } });
    await t.reconcile();
    expect(written(t)).toEqual(['team-a/regcred']);
    expect(t.status()!.namespaces).toEqual({ targeted: 1, synced: 1, failed: 0 });
  });

  it('a sync that names kube-system writes there', async () => {
    const t = setup({ namespaces: NAMESPACES, spec: { ...SPEC, namespaces: { ...EVERY, names: ['kube-system'] } } });
    await t.reconcile();
    expect(written(t)).toEqual(['kube-system/regcred', 'team-a/regcred']);
  });

  it('the operator\'s own namespace is excluded when the list names it', async () => {
    const t = setup({ namespaces: [...NAMESPACES, ['ops', { 'kubernetes.io/metadata.name': 'ops' }]], spec: { ...SPEC, namespaces: EVERY }, options: { selectorExcluded: ['ops'] } });
    await t.reconcile();
    expect(written(t)).toEqual(['kube-node-lease/regcred', 'kube-public/regcred', 'kube-system/regcred', 'openshift-config/regcred', 'team-a/regcred']);
  });

  it('with the exclusion turned off, a selector reaches the system namespaces', async () => {
    const t = setup({ namespaces: NAMESPACES, spec: { ...SPEC, namespaces: EVERY }, options: { selectorExcluded: [] } });
    await t.reconcile();
    expect(written(t)).toHaveLength(NAMESPACES.length);
  });

  it('removes the secret an earlier operator\'s selector put into kube-system', async () => {
    const t = setup({ namespaces: NAMESPACES, spec: { ...SPEC, namespaces: EVERY }, options: { selectorExcluded: [] } });
    await t.reconcile();
    const upgraded = new Reconciler({ kube: t.kube, tokens: t.tokens, clock: t.clock, metrics: t.metrics, log: createLogger('silent') });
    await upgraded.reconcile('prod');
    expect(written(t)).toEqual(['team-a/regcred']);
  });
});
