import { ANNOTATION_TEMPLATE_KEYS } from '../api/constants.ts';
import type { EcrCredentialSyncSpec, OwnerReference } from '../api/types.ts';
import { makeSync } from '../testing/fakes.ts';
import { type GroupToken, secretContent } from './desired.ts';
import { tokenGroups } from './identity.ts';
import type { ActualSecret } from './plan.ts';
import { ownerReferencesWith, secretPatch } from './secret-patch.ts';

const SPEC: EcrCredentialSyncSpec = { registries: [{ accountId: '111111111111', region: 'us-east-1' }], namespaces: { names: ['a'] } };
const TOKENS = new Map<string, GroupToken>(tokenGroups(SPEC).map((g) => [g.key, { credential: { username: 'AWS', password: 'pw' }, expiresAt: new Date('2025-01-15T12:00:00Z') }]));
const content = (template?: EcrCredentialSyncSpec['secretTemplate']) => secretContent(makeSync('prod', { ...SPEC, ...(template ? { secretTemplate: template } : {}) }, { uid: 'uid-prod' }), TOKENS)!;
const SYNC_REF: OwnerReference = { apiVersion: 'ecrsync.io/v1alpha1', kind: 'EcrCredentialSync', name: 'prod', uid: 'uid-prod' };
const FOREIGN_REF: OwnerReference = { apiVersion: 'v1', kind: 'ConfigMap', name: 'app', uid: 'uid-cm', controller: true };
const secret = (change: Partial<ActualSecret> = {}): ActualSecret => ({ namespace: 'a', name: 'regcred', resourceVersion: '7', data: {}, labels: {}, annotations: {}, ...change });

describe('secretPatch', () => {
  it('is guarded by the resourceVersion it read, so a concurrent change fails with 409 instead of being lost', () => {
    expect(secretPatch(secret(), content()).metadata.resourceVersion).toBe('7');
  });

  it('names only the operator\'s labels and annotations, so those of others stay', () => {
    const patch = secretPatch(secret({ labels: { app: 'x' }, annotations: { note: 'y' } }), content());
    expect(patch.metadata.labels).not.toHaveProperty('app');
    expect(patch.metadata.annotations).not.toHaveProperty('note');
    expect(patch.metadata.labels['app.kubernetes.io/managed-by']).toBe('ecr-credential-sync');
  });

  it('removes template keys the spec no longer names, and the record of them when none are left', () => {
    const before = content({ labels: { team: 'a' }, annotations: { owner: 'me' } });
    const patch = secretPatch(secret({ labels: before.labels, annotations: before.annotations }), content());
    expect(patch.metadata.labels.team).toBeNull();
    expect(patch.metadata.annotations.owner).toBeNull();
    expect(patch.metadata.annotations[ANNOTATION_TEMPLATE_KEYS]).toBeNull();
  });

  it('keeps template keys the spec still names, with their new values', () => {
    const before = content({ labels: { team: 'a', tier: '1' } });
    const patch = secretPatch(secret({ labels: before.labels, annotations: before.annotations }), content({ labels: { team: 'b' } }));
    expect(patch.metadata.labels).toMatchObject({ team: 'b', tier: null });
    expect(JSON.parse(patch.metadata.annotations[ANNOTATION_TEMPLATE_KEYS]!)).toEqual({ labels: ['team'], annotations: [] });
  });

  it('never removes a label the operator did not record as its own', () => {
    const patch = secretPatch(secret({ labels: { team: 'handmade' } }), content());
    expect(patch.metadata.labels).not.toHaveProperty('team');
  });

  it('removes data keys the operator did not write, since the data is wholly its own', () => {
    const patch = secretPatch(secret({ data: { '.dockerconfigjson': 'old', extra: 'x' } }), content());
    expect(patch.data.extra).toBeNull();
    expect(patch.data['.dockerconfigjson']).toBe(content().data['.dockerconfigjson']);
  });

  it('leaves ownerReferences out when the sync is already an owner (a merge patch would replace the list)', () => {
    expect(secretPatch(secret({ ownerReferences: [FOREIGN_REF, SYNC_REF] }), content()).metadata).not.toHaveProperty('ownerReferences');
  });

  it('adds the sync to the owners others set, keeping theirs', () => {
    expect(secretPatch(secret({ ownerReferences: [FOREIGN_REF] }), content()).metadata.ownerReferences).toEqual([FOREIGN_REF, { ...SYNC_REF, controller: false }]);
  });
});

describe('ownerReferencesWith', () => {
  it.each<[string, OwnerReference[] | undefined, OwnerReference | undefined, OwnerReference[] | undefined]>([
    ['a secret without owners gets the sync as its controller', undefined, SYNC_REF, [{ ...SYNC_REF, controller: true }]],
    ['a secret with a controller already gets the sync as a plain owner', [FOREIGN_REF], SYNC_REF, [FOREIGN_REF, { ...SYNC_REF, controller: false }]],
    ['a secret owned by the sync already needs no change', [SYNC_REF], SYNC_REF, undefined],
    ['without a sync uid (a dry run) nothing changes', [FOREIGN_REF], undefined, undefined],
  ])('%s', (_name, current, owner, expected) => {
    expect(ownerReferencesWith(current, owner)).toEqual(expected);
  });
});
