import type { KubernetesObject, V1Namespace, V1Secret, V1ServiceAccount } from '@kubernetes/client-node';
import { EventMap } from './event-map.ts';

const registries = [{ accountId: '123456789012', region: 'us-east-1' }];

function syncObject(name: string, spec: unknown, meta: Partial<NonNullable<KubernetesObject['metadata']>> = {}): KubernetesObject {
  return { apiVersion: 'ecrsync.io/v1alpha1', kind: 'EcrCredentialSync', metadata: { name, uid: `uid-${name}`, generation: 1, ...meta }, spec } as KubernetesObject;
}

function namespace(name: string, labels: Record<string, string> = {}, extra: Partial<V1Namespace> = {}): V1Namespace {
  return { metadata: { name, labels, ...extra.metadata }, ...(extra.status ? { status: extra.status } : {}) };
}

function account(namespace: string, name: string, pulls: string[] = [], addedBy?: Record<string, string>): V1ServiceAccount {
  return {
    metadata: { namespace, name, ...(addedBy ? { annotations: { 'ecrsync.io/image-pull-secrets': JSON.stringify(addedBy) } } : {}) },
    imagePullSecrets: pulls.map((n) => ({ name: n })),
  };
}

/** Two syncs as the lead's e2e test has them: A by selector, B by name; both choose the default account. */
function setup(extra: KubernetesObject[] = []) {
  const syncs: KubernetesObject[] = [
    syncObject('a', { registries, namespaces: { selector: { matchLabels: { team: 'a' } } }, serviceAccounts: ['default'] }),
    syncObject('b', { registries, namespaces: { names: ['some-ns'] }, serviceAccounts: ['default'] }),
    ...extra,
  ];
  const map = new EventMap(() => syncs);
  for (const sync of syncs) map.sync('add', sync);
  for (const ns of [namespace('team-a', { team: 'a' }), namespace('some-ns'), namespace('none')]) map.namespace('add', ns);
  return { map, syncs };
}

describe('EventMap namespaces', () => {
  it('a namespace added with a matching label reaches only the sync that selects it', () => {
    expect(setup().map.namespace('add', namespace('new', { team: 'a' }))).toEqual(['a']);
  });

  it('a label that moves a namespace out of a selector reaches that sync, from the state seen before', () => {
    const { map } = setup();
    expect(map.namespace('update', namespace('team-a', {}))).toEqual(['a']);
    // and the next change is judged against the new state: it matches no sync on either side
    expect(map.namespace('update', namespace('team-a', { team: 'b' }))).toEqual([]);
  });

  it('a label change on a namespace no sync targets reaches none', () => {
    expect(setup().map.namespace('update', namespace('none', { tier: 'gold' }))).toEqual([]);
  });

  it('an annotation change reaches no sync', () => {
    expect(setup().map.namespace('update', namespace('team-a', { team: 'a' }, { metadata: { annotations: { note: 'x' } } }))).toEqual([]);
  });

  it('a namespace turning Terminating reaches the syncs that target it', () => {
    const terminating = namespace('some-ns', {}, { metadata: { deletionTimestamp: new Date() }, status: { phase: 'Terminating' } });
    expect(setup().map.namespace('update', terminating)).toEqual(['b']);
  });

  it('a deleted namespace reaches the syncs that targeted it as last seen, even if the deleted object differs', () => {
    const { map } = setup();
    expect(map.namespace('delete', namespace('team-a', {}))).toEqual(['a']);
    // forgotten: added again, it is new
    expect(map.namespace('add', namespace('team-a', {}))).toEqual([]);
  });

  it('a sync whose spec cannot be evaluated is reached by every namespace change', () => {
    const { map } = setup([syncObject('broken', { registries, namespaces: { names: 'none' } })]);
    expect(map.namespace('update', namespace('none', { tier: 'gold' }))).toEqual(['broken']);
  });

  it('syncs added after the namespaces were seen are judged with the cache as it is now', () => {
    const { map, syncs } = setup();
    syncs.push(syncObject('late', { registries, namespaces: { names: ['none'] } }));
    expect(map.namespace('update', namespace('none', { tier: 'gold' }))).toEqual(['late']);
  });
});

describe('EventMap system namespaces', () => {
  const every = syncObject('every', { registries, namespaces: { selector: {} } });
  const named = syncObject('named', { registries, namespaces: { names: ['kube-system'] } });

  it('a label change on kube-system reaches only the sync that names it, as the reconciler excludes it from selectors by default', () => {
    const map = new EventMap(() => [every, named]);
    map.namespace('add', namespace('kube-system'));
    expect(map.namespace('update', namespace('kube-system', { poke: '1' }))).toEqual(['named']);
  });

  it('with the exclusion turned off, a label change on kube-system reaches the selecting sync too', () => {
    const map = new EventMap(() => [every, named], { selectorExcluded: [] });
    map.namespace('add', namespace('kube-system'));
    expect(map.namespace('update', namespace('kube-system', { poke: '1' }))).toEqual(['every', 'named']);
  });

  it('a sync naming a host the allowlist admits is routed by its selection', () => {
    const mirrored = syncObject('mirrored', { registries: [{ ...registries[0], hostnames: ['127.0.0.1:5000'] }], namespaces: { names: ['elsewhere'] } });
    expect(new EventMap(() => [mirrored], { allowedHostnames: ['127.0.0.1'] }).namespace('add', namespace('x'))).toEqual([]);
    expect(new EventMap(() => [mirrored]).namespace('add', namespace('x'))).toEqual(['mirrored']);
  });
});

describe('EventMap ServiceAccounts', () => {
  it('a new default account reaches only the sync that targets its namespace', () => {
    expect(setup().map.serviceAccount('add', account('team-a', 'default'))).toEqual(['a']);
  });

  it('an account in a namespace not seen yet reaches every sync that chooses its name', () => {
    expect(setup().map.serviceAccount('add', account('unseen', 'default'))).toEqual(['a', 'b']);
  });

  it('an account no sync chooses reaches none', () => {
    expect(setup().map.serviceAccount('add', account('team-a', 'builder'))).toEqual([]);
  });

  it('an entry removed by hand reaches the sync that added it, which adds it back', () => {
    const { map } = setup();
    map.serviceAccount('add', account('none', 'default', ['regcred'], { b: 'regcred' }));
    expect(map.serviceAccount('update', account('none', 'default', [], { b: 'regcred' }))).toEqual(['b']);
  });

  it('an update that changes nothing a reconcile reads reaches no sync', () => {
    const { map } = setup();
    map.serviceAccount('add', account('team-a', 'default', ['regcred'], { a: 'regcred' }));
    const relabelled = account('team-a', 'default', ['regcred'], { a: 'regcred' });
    relabelled.metadata!.labels = { tier: 'gold' };
    expect(map.serviceAccount('update', relabelled)).toEqual([]);
  });

  it('a deleted account reaches no sync, and is forgotten', () => {
    const { map } = setup();
    map.serviceAccount('add', account('team-a', 'default', ['regcred'], { a: 'regcred' }));
    expect(map.serviceAccount('delete', account('team-a', 'default', ['regcred'], { a: 'regcred' }))).toEqual([]);
    expect(map.serviceAccount('add', account('team-a', 'default'))).toEqual(['a']);
  });

  it('an account judged after its namespace left the selector reaches only the sync listed in its annotation', () => {
    const { map } = setup();
    map.namespace('update', namespace('team-a', {}));
    expect(map.serviceAccount('update', account('team-a', 'default', ['regcred', 'mine'], { a: 'regcred' }))).toEqual(['a']);
  });
});

describe('EventMap syncs and secrets', () => {
  it('a sync is queued when added, and again only when what calls for a reconcile changes', () => {
    const map = new EventMap(() => []);
    const s = syncObject('s', { registries });
    expect(map.sync('add', s)).toEqual(['s']);
    expect(map.sync('update', { ...s, status: { conditions: [] } } as KubernetesObject)).toEqual([]);
    expect(map.sync('update', syncObject('s', { registries }, { generation: 2 }))).toEqual(['s']);
    const deleting = { generation: 2, deletionTimestamp: new Date(0) };
    expect(map.sync('update', syncObject('s', { registries }, { ...deleting, finalizers: ['ecrsync.io/cleanup'] }))).toEqual(['s']);
    expect(map.sync('update', syncObject('s', { registries }, { ...deleting, finalizers: [] }))).toEqual(['s']);
  });

  it('a deleted sync is queued and forgotten, so one created again under its name is queued', () => {
    const map = new EventMap(() => []);
    const s = syncObject('s', { registries });
    map.sync('add', s);
    expect(map.sync('delete', s)).toEqual(['s']);
    expect(map.sync('add', s)).toEqual(['s']);
  });

  it('a managed secret reaches the sync its label names, and an unlabelled one none', () => {
    const map = new EventMap(() => []);
    map.sync('add', syncObject('a', { registries, namespaces: { names: ['x'] } }));
    const secret = (labels: Record<string, string>): V1Secret => ({ metadata: { namespace: 'x', name: 'regcred', labels } });
    expect(map.secret(secret({ 'ecrsync.io/sync': 'a' }))).toEqual(['a']);
    expect(map.secret(secret({}))).toEqual([]);
  });

  it('objects without a name reach nothing rather than throw', () => {
    const map = new EventMap(() => [{ metadata: {} }]);
    expect(map.sync('add', { metadata: {} })).toEqual([]);
    expect(map.namespace('add', {})).toEqual([]);
    expect(map.serviceAccount('add', { metadata: { name: 'x' } })).toEqual([]);
  });
});

describe('EventMap LocalEcrCredentialSyncs', () => {
  const localSync = (namespace: string, name: string, spec: unknown) =>
    ({ apiVersion: 'ecrsync.io/v1alpha1', kind: 'LocalEcrCredentialSync', metadata: { name, namespace, uid: `uid-${namespace}-${name}`, generation: 1 }, spec }) as KubernetesObject;
  const tenant = () => setup([localSync('team-a', 'ecr', { registries, identity: { serviceAccountRef: { name: 'ecr-sa' } }, serviceAccounts: ['builder'] })]);

  it('a local sync is queued by its namespace/name key', () => {
    expect(new EventMap(() => []).sync('add', localSync('team-a', 'ecr', { registries }))).toEqual(['team-a/ecr']);
  });

  it('its own namespace changing reaches it, as the sync that targets it', () => {
    expect(tenant().map.namespace('delete', namespace('team-a', { team: 'a' }))).toContain('team-a/ecr');
    expect(tenant().map.namespace('update', namespace('team-a', { team: 'a' }, { status: { phase: 'Terminating' } }))).toContain('team-a/ecr');
  });

  it("another namespace's events never reach it", () => {
    expect(tenant().map.namespace('add', namespace('team-b', { team: 'b' }))).toEqual([]);
  });

  it('its ServiceAccount reaches it only in its own namespace', () => {
    const { map } = tenant();
    expect(map.serviceAccount('add', account('team-a', 'ecr-sa'))).toEqual(['team-a/ecr']);
    expect(map.serviceAccount('add', account('some-ns', 'ecr-sa'))).toEqual([]);
  });

  it('a secret labelled as a local sync reaches the sync of the namespace the secret is in, and none where no such sync exists', () => {
    const secret = (ns: string): V1Secret => ({ metadata: { namespace: ns, name: 'regcred', labels: { 'ecrsync.io/local-sync': 'ecr' } } });
    expect(tenant().map.secret(secret('team-a'))).toEqual(['team-a/ecr']);
    expect(tenant().map.secret(secret('some-ns'))).toEqual([]);
  });

  it('a secret labelled as a cluster sync that does not exist queues nothing (anyone may set the label)', () => {
    expect(tenant().map.secret({ metadata: { namespace: 'team-a', name: 'x', labels: { 'ecrsync.io/sync': 'ghost' } } })).toEqual([]);
    expect(tenant().map.secret({ metadata: { namespace: 'team-a', name: 'x', labels: { 'ecrsync.io/sync': 'a' } } })).toEqual(['a']);
  });
});
