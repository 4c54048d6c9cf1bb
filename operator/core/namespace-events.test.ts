import type { EcrCredentialSyncSpec, NamespaceSelection } from '../api/types.ts';
import { syncsForAccountChange, syncsForNamespaceChange, type SyncView } from './namespace-events.ts';
import type { NamespaceInfo } from './namespaces.ts';
import type { AccountView } from './service-accounts.ts';

const MARK = 'ecrsync.io/image-pull-secrets';

function sync(name: string, namespaces: NamespaceSelection, extra: Partial<EcrCredentialSyncSpec> = {}): SyncView {
  return { name, spec: { registries: [{ accountId: '123456789012', region: 'us-east-1' }], namespaces, ...extra } };
}

const ns = (name: string, labels: Record<string, string> = {}, terminating?: boolean): NamespaceInfo => ({
  name,
  labels,
  ...(terminating !== undefined ? { terminating } : {}),
});

const SYNCS: SyncView[] = [
  sync('team-a', { selector: { matchLabels: { team: 'a' } } }),
  sync('listed', { names: ['some-ns', 'other-ns'] }),
  sync('all-but-kube', { selector: {}, exclude: ['kube-*'] }),
  sync('prod', { selector: { matchExpressions: [{ key: 'env', operator: 'In', values: ['prod'] }] }, exclude: ['legacy'] }),
];
// Without all-but-kube, which every namespace outside kube-* concerns.
const NARROW = SYNCS.filter((s) => s.name !== 'all-but-kube');

describe('syncsForNamespaceChange', () => {
  it.each<[string, SyncView[], NamespaceInfo | undefined, NamespaceInfo | undefined, string[]]>([
    ['a new namespace reaches the syncs that select it', NARROW, undefined, ns('x', { team: 'a' }), ['team-a']],
    ['a new namespace reaches the syncs that list it by name', NARROW, undefined, ns('some-ns'), ['listed']],
    ['a new namespace that no sync targets reaches none', NARROW, undefined, ns('x', { team: 'b' }), []],
    ['a new namespace an exclude glob removes reaches no sync through that selector', SYNCS, undefined, ns('kube-public'), []],
    ['an excluded name does not reach a sync whose selector matches it', NARROW, undefined, ns('legacy', { env: 'prod' }), []],
    ['a label that moves a namespace into a selector reaches that sync', NARROW, ns('x', { team: 'b' }), ns('x', { team: 'a' }), ['team-a']],
    ['a label that moves a namespace out of a selector reaches that sync, which must delete its secret', NARROW, ns('x', { team: 'a' }), ns('x', {}), ['team-a']],
    ['a label moving a namespace from one selector to another reaches both syncs', NARROW, ns('x', { team: 'a' }), ns('x', { env: 'prod' }), ['team-a', 'prod']],
    ['a label change that keeps a namespace selected still reaches the sync', NARROW, ns('x', { team: 'a' }), ns('x', { team: 'a', tier: '1' }), ['team-a']],
    ['a label change on a namespace that no sync targets reaches none', NARROW, ns('x', { team: 'b' }), ns('x', { team: 'c' }), []],
    ['a label change on a namespace listed by name reaches only that sync', NARROW, ns('some-ns'), ns('some-ns', { tier: '1' }), ['listed']],
    ['a namespace starting to terminate reaches the syncs that targeted it', NARROW, ns('x', { team: 'a' }), ns('x', { team: 'a' }, true), ['team-a']],
    ['a terminating namespace being deleted reaches the syncs that select it', NARROW, ns('x', { team: 'a' }, true), undefined, ['team-a']],
    ['a deleted namespace reaches the syncs that targeted it', NARROW, ns('other-ns'), undefined, ['listed']],
    ['an update that changes nothing a reconcile reads reaches no sync', NARROW, ns('x', { team: 'a' }), ns('x', { team: 'a' }), []],
    ['syncs come back in the order given', SYNCS, undefined, ns('some-ns', { team: 'a', env: 'prod' }), ['team-a', 'listed', 'all-but-kube', 'prod']],
    ['no namespace on either side reaches nothing', SYNCS, undefined, undefined, []],
  ])('%s', (_title, syncs, before, after, expected) => {
    expect(syncsForNamespaceChange(syncs, { ...(before ? { before } : {}), ...(after ? { after } : {}) })).toEqual(expected);
  });

  it.each<[string, unknown]>([
    ['a sync without a spec', undefined],
    ['a spec whose fields throw when read', new Proxy({}, { get: () => { throw new Error('boom'); } })],
    ['a spec that is not an object', 'names: [x]'],
    ['names that are not a list', { registries: [{ accountId: '123456789012', region: 'us-east-1' }], namespaces: { names: 'x' } }],
    ['matchExpressions that are not a list', { registries: [{ accountId: '123456789012', region: 'us-east-1' }], namespaces: { selector: { matchExpressions: { key: 'a' } } } }],
    ['exclude entries that are not strings', { registries: [{ accountId: '123456789012', region: 'us-east-1' }], namespaces: { selector: {}, exclude: [{ toString: [] }] } }],
    ['a valid selection but an invalid registry', { registries: [], namespaces: { names: ['elsewhere'] } }],
  ])('%s is reached by every namespace change, never a throw, so its reconcile reports it', (_title, spec) => {
    const syncs = [sync('good', { names: ['elsewhere'] }), { name: 'bad', spec }];
    expect(syncsForNamespaceChange(syncs, { before: ns('x', { team: 'a' }), after: ns('x') })).toEqual(['bad']);
  });

  it('a spec edited in place is validated again', () => {
    const spec = { registries: [{ accountId: '123456789012', region: 'us-east-1' }], namespaces: { names: ['elsewhere'] } };
    const syncs = [{ name: 's', spec }];
    expect(syncsForNamespaceChange(syncs, { after: ns('x') })).toEqual([]);
    const replaced = { ...spec, namespaces: { names: 'x' } };
    expect(syncsForNamespaceChange([{ name: 's', spec: replaced }], { after: ns('x') })).toEqual(['s']);
  });
});

describe('syncsForNamespaceChange with system namespaces excluded from selectors', () => {
  const ROUTING = { selectorExcluded: ['kube-system', 'openshift-*'] };
  const kubeSystem = (poke: string) => ns('kube-system', { 'kubernetes.io/metadata.name': 'kube-system', poke });
  const ROUTED: SyncView[] = [
    sync('every', { selector: {} }),
    sync('named', { names: ['kube-system'] }),
    sync('labelled', { selector: { matchExpressions: [{ key: 'kubernetes.io/metadata.name', operator: 'Exists' }] } }),
  ];

  it.each<[string, NamespaceInfo | undefined, NamespaceInfo | undefined, string[]]>([
    ['a label change on kube-system reaches only the sync that names it', kubeSystem('1'), kubeSystem('2'), ['named']],
    ['a new namespace under an excluded glob reaches no selector', undefined, ns('openshift-monitoring', { 'kubernetes.io/metadata.name': 'openshift-monitoring' }), []],
    ['an ordinary namespace still reaches every selector', undefined, ns('team-x', { 'kubernetes.io/metadata.name': 'team-x' }), ['every', 'labelled']],
  ])('%s', (_title, before, after, expected) => {
    expect(syncsForNamespaceChange(ROUTED, { ...(before ? { before } : {}), ...(after ? { after } : {}) }, ROUTING)).toEqual(expected);
  });

  it('without the exclusion, a label change on kube-system reaches every selector too', () => {
    expect(syncsForNamespaceChange(ROUTED, { before: kubeSystem('1'), after: kubeSystem('2') })).toEqual(['every', 'named', 'labelled']);
  });

  it('a new ServiceAccount in an excluded namespace reaches no sync that only selects it', () => {
    const chooser = sync('chooser', { selector: {} }, { serviceAccounts: ['*'] });
    expect(syncsForAccountChange([chooser], { after: sa('default', [], undefined, 'kube-system') }, ns('kube-system'), ROUTING)).toEqual([]);
  });
});

describe('syncsForNamespaceChange with an allowlist of extra hostnames', () => {
  const mirrored = (name: string): SyncView => sync(name, { names: ['elsewhere'] }, { registries: [{ accountId: '123456789012', region: 'us-east-1', hostnames: ['127.0.0.1:5000'] }] });

  it('a sync whose hostname the allowlist admits is judged by its selection like any other', () => {
    expect(syncsForNamespaceChange([mirrored('m')], { after: ns('x') }, { allowedHostnames: ['127.0.0.1'] })).toEqual([]);
  });

  it('a sync whose hostname no allowlist admits is invalid, so every namespace change reaches it, as the reconcile would report it', () => {
    expect(syncsForNamespaceChange([mirrored('m')], { after: ns('x') })).toEqual(['m']);
  });

  it('the same spec is judged again under another allowlist', () => {
    const syncs = [mirrored('m')];
    expect(syncsForNamespaceChange(syncs, { after: ns('x') }, { allowedHostnames: ['127.0.0.1'] })).toEqual([]);
    expect(syncsForNamespaceChange(syncs, { after: ns('x') }, { allowedHostnames: ['mirror.corp'] })).toEqual(['m']);
  });
});

const sa = (name: string, pulls: string[] = [], marks?: Record<string, string> | string, namespace = 'team-a'): AccountView => ({
  namespace,
  name,
  imagePullSecrets: pulls,
  annotations: marks === undefined ? {} : { [MARK]: typeof marks === 'string' ? marks : JSON.stringify(marks) },
});

describe('syncsForAccountChange', () => {
  const ACCOUNT_SYNCS: SyncView[] = [
    sync('a-default', { selector: { matchLabels: { team: 'a' } } }, { serviceAccounts: ['default'] }),
    sync('a-every', { names: ['team-a'] }, { serviceAccounts: ['*'] }),
    sync('b-every', { names: ['team-b'] }, { serviceAccounts: ['*'] }),
    sync('a-none', { selector: { matchLabels: { team: 'a' } } }),
    sync('signs-in', { names: ['team-b'] }, { identity: { serviceAccountRef: { namespace: 'team-a', name: 'ecr-puller' } } }),
  ];
  const teamA = ns('team-a', { team: 'a' });

  it.each<[string, AccountView | undefined, AccountView | undefined, NamespaceInfo | undefined, string[]]>([
    ['a new account reaches the syncs that choose its name in a namespace they target', undefined, sa('default'), teamA, ['a-default', 'a-every']],
    ['a new account that only "*" chooses reaches only those syncs', undefined, sa('builder'), teamA, ['a-every']],
    ['a new account in a namespace no sync targets reaches none', undefined, sa('default', [], undefined, 'team-c'), ns('team-c'), []],
    ['an account whose namespace is not in the cache yet reaches every sync that chooses its name', undefined, sa('default', [], undefined, 'team-c'), undefined, ['a-default', 'a-every', 'b-every']],
    [
      'an entry removed by hand reaches the sync that added it, which adds it back',
      sa('builder', ['regcred'], { 'a-every': 'regcred' }),
      sa('builder', [], { 'a-every': 'regcred' }),
      teamA,
      ['a-every'],
    ],
    [
      'an entry and its annotation removed by hand still reach the syncs that choose the account',
      sa('default', ['regcred'], { 'a-default': 'regcred' }),
      sa('default'),
      teamA,
      ['a-default', 'a-every'],
    ],
    [
      'an account listing the secret of a sync that no longer targets it reaches that sync, which removes its entry',
      sa('default', ['regcred'], { 'b-every': 'regcred' }),
      sa('default', ['regcred', 'mine'], { 'b-every': 'regcred' }),
      teamA,
      ['a-default', 'a-every', 'b-every'],
    ],
    ['an account no sync chooses or lists reaches none', sa('other', [], undefined, 'team-c'), sa('other', ['mine'], undefined, 'team-c'), ns('team-c'), []],
    ['an update that changes nothing a reconcile reads reaches no sync', sa('default', ['regcred'], { 'a-default': 'regcred' }), sa('default', ['regcred'], { 'a-default': 'regcred' }), teamA, []],
    ['a deleted account needs no cleanup and reaches no sync', sa('default', ['regcred'], { 'a-default': 'regcred' }), undefined, teamA, []],
    ['an account a sync signs in with reaches that sync when it is created', undefined, sa('ecr-puller'), teamA, ['a-every', 'signs-in']],
    ['an account a sync signs in with reaches that sync when it is deleted', sa('ecr-puller'), undefined, teamA, ['signs-in']],
    ['an account in a terminating namespace still reaches the syncs that target it', undefined, sa('default'), ns('team-a', { team: 'a' }, true), ['a-default', 'a-every']],
    ['an annotation that is not JSON names no sync', sa('x', [], undefined, 'team-c'), sa('x', [], 'not json', 'team-c'), ns('team-c'), []],
  ])('%s', (_title, before, after, namespace, expected) => {
    expect(syncsForAccountChange(ACCOUNT_SYNCS, { ...(before ? { before } : {}), ...(after ? { after } : {}) }, namespace)).toEqual(expected);
  });

  it('a sync whose serviceAccounts cannot be read is reached by any account change, never a throw', () => {
    const syncs = [...ACCOUNT_SYNCS, sync('broken', { names: ['team-c'] }, { serviceAccounts: 'default' as unknown as string[] })];
    expect(syncsForAccountChange(syncs, { after: sa('other', [], undefined, 'team-c') }, ns('team-c'))).toEqual(['broken']);
  });
});
