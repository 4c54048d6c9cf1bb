import { LABEL_LOCAL_SYNC, LABEL_MANAGED_BY, LABEL_SYNC } from '../api/constants.ts';
import { describeSync, ownerKeyOf, ownerLabel, parseSyncKey, syncKey } from './sync-ref.ts';

describe('sync keys', () => {
  it.each<[string, Parameters<typeof syncKey>[0], string | undefined]>([
    ['an EcrCredentialSync is known by its name', { kind: 'EcrCredentialSync', metadata: { name: 'central' } }, 'central'],
    ['a LocalEcrCredentialSync by namespace/name', { kind: 'LocalEcrCredentialSync', metadata: { name: 'ecr', namespace: 'team-a' } }, 'team-a/ecr'],
    ['an object without kind but with a namespace is a local one', { metadata: { name: 'ecr', namespace: 'team-a' } }, 'team-a/ecr'],
    ['a local sync without a namespace has no key', { kind: 'LocalEcrCredentialSync', metadata: { name: 'ecr' } }, undefined],
    ['an object without a name has no key', { kind: 'EcrCredentialSync', metadata: {} }, undefined],
  ])('%s', (_name, object, key) => {
    expect(syncKey(object)).toBe(key);
  });

  it.each<[string, string, ReturnType<typeof parseSyncKey>]>([
    ['a name parses as the cluster kind', 'central', { kind: 'EcrCredentialSync', name: 'central' }],
    ['namespace/name parses as the local kind', 'team-a/ecr', { kind: 'LocalEcrCredentialSync', namespace: 'team-a', name: 'ecr' }],
  ])('%s', (_name, key, ref) => {
    expect(parseSyncKey(key)).toEqual(ref);
  });

  it('names each kind as messages print it', () => {
    expect(describeSync('central')).toBe('EcrCredentialSync central');
    expect(describeSync('team-a/ecr')).toBe('LocalEcrCredentialSync team-a/ecr');
  });
});

describe('which sync a secret belongs to', () => {
  it.each<[string, Record<string, string>, string | undefined]>([
    ['a cluster sync by its label', { [LABEL_MANAGED_BY]: 'ecr-credential-sync', [LABEL_SYNC]: 'central' }, 'central'],
    ['a local sync by its label, in the secret own namespace', { [LABEL_LOCAL_SYNC]: 'ecr' }, 'team-a/ecr'],
    ['the local label wins when both are set, so a local sync cannot be made to look like a cluster one', { [LABEL_SYNC]: 'central', [LABEL_LOCAL_SYNC]: 'ecr' }, 'team-a/ecr'],
    ['no sync when neither label is set', { [LABEL_MANAGED_BY]: 'ecr-credential-sync' }, undefined],
    ['no sync for an empty label', { [LABEL_SYNC]: '' }, undefined],
  ])('%s', (_name, labels, key) => {
    expect(ownerKeyOf({ namespace: 'team-a', labels })).toBe(key);
  });

  it('labels a secret with the label its owner is found by', () => {
    expect(ownerLabel('central')).toEqual({ key: LABEL_SYNC, value: 'central' });
    expect(ownerLabel('team-a/ecr')).toEqual({ key: LABEL_LOCAL_SYNC, value: 'ecr' });
    const label = ownerLabel('team-a/ecr');
    expect(ownerKeyOf({ namespace: 'team-a', labels: { [label.key]: label.value } })).toBe('team-a/ecr');
  });

  it('a local sync label in another namespace names a sync of that namespace, never the one elsewhere', () => {
    expect(ownerKeyOf({ namespace: 'team-b', labels: { [LABEL_LOCAL_SYNC]: 'ecr' } })).toBe('team-b/ecr');
  });
});
