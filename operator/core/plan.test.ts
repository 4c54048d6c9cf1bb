import { LABEL_MANAGED_BY, LABEL_SYNC } from '../api/constants.ts';
import type { EcrCredentialSyncSpec } from '../api/types.ts';
import { makeSync } from '../testing/fakes.ts';
import { type DesiredState, desiredSecrets, type GroupToken, type SecretContent } from './desired.ts';
import { tokenGroups } from './identity.ts';
import { type ActualSecret, ownership, plan, upToDate } from './plan.ts';

const SPEC: EcrCredentialSyncSpec = { registries: [{ accountId: '111111111111', region: 'us-east-1' }], namespaces: { selector: {} } };
const SYNC = makeSync('prod', SPEC, { uid: 'uid-prod' });
const TOKENS = new Map<string, GroupToken>(
  tokenGroups(SPEC).map((g) => [g.key, { credential: { username: 'AWS', password: 'pw' }, expiresAt: new Date('2025-01-15T12:00:00Z') }]),
);

const desired = (namespaces: string[], withToken = true, spec: EcrCredentialSyncSpec = SPEC): DesiredState =>
  desiredSecrets(makeSync('prod', spec, { uid: 'uid-prod' }), withToken ? TOKENS : new Map(), namespaces);
const CONTENT: SecretContent = desired(['a']).content!;

/** A secret exactly as the operator would have written it. */
const ours = (namespace: string, name = 'regcred', change: Partial<ActualSecret> = {}): ActualSecret => ({
  namespace,
  name,
  uid: `uid-${namespace}`,
  resourceVersion: '1',
  type: CONTENT.type,
  data: { ...CONTENT.data },
  labels: { ...CONTENT.labels },
  annotations: { ...CONTENT.annotations },
  ownerReferences: [{ ...CONTENT.owner!, controller: true }],
  ...change,
});
const foreign = (namespace: string, name = 'regcred'): ActualSecret => ({
  namespace,
  name,
  type: 'kubernetes.io/dockerconfigjson',
  data: { '.dockerconfigjson': 'e30=' },
  labels: { app: 'handmade' },
});
const otherSync = (namespace: string, name = 'regcred'): ActualSecret => ({ ...ours(namespace, name), labels: { ...CONTENT.labels, [LABEL_SYNC]: 'staging' } });

/** Actions as "kind namespace/name". */
const summary = (d: DesiredState, actual: ActualSecret[]) => plan(d, actual).map((a) => `${a.kind} ${a.namespace}/${a.name}`);

describe('plan', () => {
  it.each<[string, DesiredState, ActualSecret[], string[]]>([
    ['a target namespace without the secret gets it created', desired(['a']), [], ['create a/regcred']],
    ['a secret that is already right is left unchanged', desired(['a']), [ours('a')], ['unchanged a/regcred']],
    ['a secret whose data was tampered with is updated', desired(['a']), [ours('a', 'regcred', { data: { '.dockerconfigjson': 'e30=' } })], ['update a/regcred']],
    ['a secret with an extra data key is updated', desired(['a']), [ours('a', 'regcred', { data: { ...CONTENT.data, extra: 'eA==' } })], ['update a/regcred']],
    ['a secret whose type was changed is replaced, as no one may change a type', desired(['a']), [ours('a', 'regcred', { type: 'Opaque' })], ['replace a/regcred']],
    ['an immutable secret whose data is stale is replaced', desired(['a']), [ours('a', 'regcred', { immutable: true, data: { '.dockerconfigjson': 'e30=' } })], ['replace a/regcred']],
    ['an immutable secret with the right data that lost an annotation is updated, as its metadata may change', desired(['a']), [ours('a', 'regcred', { immutable: true, annotations: {} })], ['update a/regcred']],
    ['an immutable secret that is right is unchanged', desired(['a']), [ours('a', 'regcred', { immutable: true })], ['unchanged a/regcred']],
    ['a secret labelled as ours but without the sync as owner is not ours: a conflict', desired(['a']), [ours('a', 'regcred', { ownerReferences: [] })], ['conflict a/regcred']],
    ['a secret labelled as ours but owned by an earlier sync of the same name is a conflict', desired(['a']), [ours('a', 'regcred', { ownerReferences: [{ ...CONTENT.owner!, uid: 'uid-earlier' }] })], ['conflict a/regcred']],
    ['a secret labelled as ours without the sync as owner is never deleted outside the targets', desired(['a']), [ours('a'), ours('b', 'regcred', { ownerReferences: undefined }), ours('c', 'other', { ownerReferences: [] })], ['unchanged a/regcred']],
    ['a secret labelled as ours without the sync as owner is neither deleted nor kept when there is no token', desired(['a'], false), [ours('a', 'regcred', { ownerReferences: undefined }), ours('b', 'regcred', { ownerReferences: undefined })], ['conflict a/regcred']],
    ['a secret with other owners besides the sync is unchanged', desired(['a']), [ours('a', 'regcred', { ownerReferences: [{ apiVersion: 'v1', kind: 'ConfigMap', name: 'x', uid: 'u' }, { ...CONTENT.owner! }] })], ['unchanged a/regcred']],
    ['a secret with a template label the spec no longer names is updated', desired(['a']), [ours('a', 'regcred', { labels: { ...CONTENT.labels, team: 'x' }, annotations: { ...CONTENT.annotations, 'ecrsync.io/template-keys': '{"labels":["team"],"annotations":[]}' } })], ['update a/regcred']],
    ['a secret that lost an annotation we own is updated', desired(['a']), [ours('a', 'regcred', { annotations: {} })], ['update a/regcred']],
    ['a secret that only gained labels and annotations of others is unchanged', desired(['a']), [ours('a', 'regcred', { labels: { ...CONTENT.labels, extra: 'x' }, annotations: { ...CONTENT.annotations, extra: 'x' } })], ['unchanged a/regcred']],
    ['a foreign secret at the name is a conflict', desired(['a']), [foreign('a')], ['conflict a/regcred']],
    ['a secret of another sync at the name is a conflict', desired(['a']), [otherSync('a')], ['conflict a/regcred']],
    ['a secret carrying our sync label but not managed-by is foreign, a conflict', desired(['a']), [{ ...foreign('a'), labels: { [LABEL_SYNC]: 'prod' } }], ['conflict a/regcred']],
    ['with no token and no secret yet, the namespace is pending', desired(['a'], false), [], ['pending a/regcred']],
    ['with no token, an existing secret of ours is kept as it is', desired(['a'], false), [ours('a')], ['keep a/regcred']],
    ['with no token, a foreign secret is still a conflict', desired(['a'], false), [foreign('a')], ['conflict a/regcred']],
    ['our secret in a namespace no longer targeted is deleted', desired(['a']), [ours('a'), ours('b')], ['unchanged a/regcred', 'delete b/regcred']],
    ['our secret is deleted from a namespace no longer targeted even without a token', desired([], false), [ours('b')], ['delete b/regcred']],
    ['our secret under an old name is deleted after a rename', desired(['a'], true, { ...SPEC, secretName: 'ecr' }), [ours('a')], ['create a/ecr', 'delete a/regcred']],
    ['a foreign secret outside the targets is never deleted', desired(['a']), [ours('a'), foreign('b')], ['unchanged a/regcred']],
    ['a secret of another sync outside the targets is never deleted', desired(['a']), [ours('a'), otherSync('b')], ['unchanged a/regcred']],
    ['a foreign secret with another name in a target namespace is never deleted', desired(['a']), [ours('a'), foreign('a', 'other')], ['unchanged a/regcred']],
    ['no targets and no secrets means nothing to do', desired([]), [], []],
    [
      'each namespace is planned on its own',
      desired(['a', 'b', 'c', 'd']),
      [ours('a'), ours('b', 'regcred', { data: {} }), foreign('c')],
      ['unchanged a/regcred', 'update b/regcred', 'conflict c/regcred', 'create d/regcred'],
    ],
  ])('%s', (_name, d, actual, expected) => {
    expect(summary(d, actual)).toEqual(expected);
  });

  it('names the other sync in a conflict with it', () => {
    const [action] = plan(desired(['a']), [otherSync('a')]);
    expect(action).toMatchObject({ kind: 'conflict', message: 'secret a/regcred exists and is managed by EcrCredentialSync staging; left untouched' });
  });

  it('says a secret labelled as ours lacks the sync as owner', () => {
    const [action] = plan(desired(['a']), [ours('a', 'regcred', { ownerReferences: undefined })]);
    expect(action).toMatchObject({ kind: 'conflict', message: "secret a/regcred is labelled as EcrCredentialSync prod's but has no owner reference to it; left untouched" });
  });

  it('says something else owns a foreign secret', () => {
    const [action] = plan(desired(['a']), [foreign('a')]);
    expect(action).toMatchObject({ kind: 'conflict', message: 'secret a/regcred exists and is managed by something else; left untouched' });
  });

  it('hands an update the secret it saw, for its resourceVersion', () => {
    const stale = ours('a', 'regcred', { data: {}, resourceVersion: '42' });
    const [action] = plan(desired(['a']), [stale]);
    expect(action).toMatchObject({ kind: 'update', actual: { resourceVersion: '42' }, content: CONTENT });
  });

  it('hands a delete the secret it saw, for its uid and resourceVersion', () => {
    const [action] = plan(desired([]), [ours('b', 'regcred', { uid: 'u-1', resourceVersion: '7' })]);
    expect(action).toMatchObject({ kind: 'delete', actual: { uid: 'u-1', resourceVersion: '7' } });
  });

  it('never deletes or writes anything that is not ours, whatever the input', () => {
    const unowned = (namespace: string) => ours(namespace, 'regcred', { ownerReferences: undefined });
    const actual = [foreign('a'), otherSync('b'), foreign('x'), otherSync('y'), { ...foreign('z'), labels: { [LABEL_SYNC]: 'prod' } }, unowned('d'), unowned('w')];
    for (const d of [desired(['a', 'b', 'c', 'd']), desired(['a', 'b', 'c', 'd'], false), desired([])]) {
      for (const action of plan(d, actual)) {
        expect(['conflict', 'create', 'pending']).toContain(action.kind);
        if (action.kind === 'create') expect(action.namespace).toBe('c');
      }
    }
  });
});

describe('ownership', () => {
  it.each<[string, ActualSecret, ReturnType<typeof ownership>]>([
    ['a secret labelled managed-by us and with our sync is ours', ours('a'), 'ours'],
    ['a secret labelled managed-by us with another sync belongs to that sync', otherSync('a'), 'other-sync'],
    ['a secret managed by us without a sync label belongs to another sync', { ...ours('a'), labels: { [LABEL_MANAGED_BY]: 'ecr-credential-sync' } }, 'other-sync'],
    ['a secret without labels is foreign', { namespace: 'a', name: 'regcred' }, 'foreign'],
    ['a secret managed by something else is foreign even with our sync label', { ...ours('a'), labels: { [LABEL_MANAGED_BY]: 'helm', [LABEL_SYNC]: 'prod' } }, 'foreign'],
    ['a secret labelled as ours without owner references is unowned', ours('a', 'regcred', { ownerReferences: undefined }), 'unowned'],
    ['a secret labelled as ours whose owner reference names the sync but another uid is unowned', ours('a', 'regcred', { ownerReferences: [{ ...CONTENT.owner!, uid: 'uid-earlier' }] }), 'unowned'],
    ['a secret labelled as ours among whose owners is the sync is ours', ours('a', 'regcred', { ownerReferences: [{ apiVersion: 'v1', kind: 'ConfigMap', name: 'x', uid: 'u', controller: true }, { ...CONTENT.owner! }] }), 'ours'],
  ])('%s', (_name, secret, expected) => {
    expect(ownership(secret, 'prod', 'uid-prod')).toBe(expected);
  });

  it('calls nothing ours for a sync without a uid', () => {
    expect(ownership(ours('a'), 'prod', undefined)).toBe('unowned');
  });
});

describe('upToDate', () => {
  it('holds for a secret written from the same content', () => {
    expect(upToDate(CONTENT, ours('a'))).toBe(true);
  });

  it('does not hold once the token changes', () => {
    const other = desiredSecrets(SYNC, new Map([...TOKENS].map(([k, t]) => [k, { ...t, credential: { username: 'AWS', password: 'new' } }])), ['a']).content!;
    expect(upToDate(other, ours('a'))).toBe(false);
  });
});
