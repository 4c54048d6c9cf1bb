import { ANNOTATION_DATA_HASH, ANNOTATION_EXPIRES_AT, ANNOTATION_REGISTRIES, LABEL_MANAGED_BY, LABEL_SYNC } from '../api/constants.ts';
import type { EcrCredentialSync, EcrCredentialSyncSpec, PrivateRegistrySpec } from '../api/types.ts';
import { makeSync } from '../testing/fakes.ts';
import { contentHash, desiredSecrets, ownedKeys, DOCKER_CONFIG_KEY, type GroupToken, SECRET_TYPE, secretContent } from './desired.ts';
import { sha256Hex } from './hash.ts';
import { type TokenGroup, tokenGroups } from './identity.ts';

const SPEC: EcrCredentialSyncSpec = {
  registries: [
    { accountId: '111111111111', region: 'us-east-1' },
    { accountId: '222222222222', region: 'eu-west-1', hostnames: ['mirror.example.com'] },
  ],
  namespaces: { names: ['a', 'b'] },
};

const EXPIRES = new Date('2025-01-15T12:00:00Z');

function tokensFor(sync: EcrCredentialSync, password = (region: string) => `pw-${region}`, expiresAt = (_region: string) => EXPIRES): Map<string, GroupToken> {
  return new Map(tokenGroups(sync.spec).map((g) => [g.key, { credential: { username: 'AWS', password: password(g.region) }, expiresAt: expiresAt(g.region) }]));
}

function decode(data: Record<string, string>) {
  return JSON.parse(Buffer.from(data[DOCKER_CONFIG_KEY]!, 'base64').toString('utf8')) as { auths: Record<string, { password: string }> };
}

describe('secretContent', () => {
  const sync = makeSync('prod', SPEC);

  it('holds one docker config with every registry host and the token of its group', () => {
    const content = secretContent(sync, tokensFor(sync))!;
    expect(content.type).toBe(SECRET_TYPE);
    const auths = decode(content.data).auths;
    expect(Object.keys(auths)).toEqual(['111111111111.dkr.ecr.us-east-1.amazonaws.com', '222222222222.dkr.ecr.eu-west-1.amazonaws.com', 'mirror.example.com']);
    expect(auths['111111111111.dkr.ecr.us-east-1.amazonaws.com']!.password).toBe('pw-us-east-1');
    expect(auths['mirror.example.com']!.password).toBe('pw-eu-west-1');
  });

  it('labels the secret as managed by the operator and owned by the sync', () => {
    expect(secretContent(sync, tokensFor(sync))!.labels).toEqual({ [LABEL_MANAGED_BY]: 'ecr-credential-sync', [LABEL_SYNC]: 'prod' });
  });

  it('annotates the earliest expiry, the registries and the hash of the docker config', () => {
    const content = secretContent(sync, tokensFor(sync, undefined, (r) => (r === 'eu-west-1' ? new Date('2025-01-15T09:00:00Z') : EXPIRES)))!;
    const json = Buffer.from(content.data[DOCKER_CONFIG_KEY]!, 'base64').toString('utf8');
    expect(content.annotations).toEqual({
      [ANNOTATION_EXPIRES_AT]: '2025-01-15T09:00:00Z',
      [ANNOTATION_REGISTRIES]: '111111111111.dkr.ecr.us-east-1.amazonaws.com,222222222222.dkr.ecr.eu-west-1.amazonaws.com,mirror.example.com',
      [ANNOTATION_DATA_HASH]: sha256Hex(json),
    });
  });

  it('includes template labels and annotations', () => {
    const templated = makeSync('prod', { ...SPEC, secretTemplate: { labels: { team: 'platform' }, annotations: { note: 'hello' } } });
    const content = secretContent(templated, tokensFor(templated))!;
    expect(content.labels.team).toBe('platform');
    expect(content.annotations.note).toBe('hello');
  });

  it('does not let the template override the labels and annotations the operator owns', () => {
    const templated = makeSync('prod', {
      ...SPEC,
      secretTemplate: {
        labels: { [LABEL_MANAGED_BY]: 'helm', [LABEL_SYNC]: 'someone-else' },
        annotations: { [ANNOTATION_EXPIRES_AT]: 'never', [ANNOTATION_DATA_HASH]: 'x', [ANNOTATION_REGISTRIES]: 'y' },
      },
    });
    const content = secretContent(templated, tokensFor(templated))!;
    expect(content.labels).toEqual({ [LABEL_MANAGED_BY]: 'ecr-credential-sync', [LABEL_SYNC]: 'prod' });
    expect(content.annotations[ANNOTATION_EXPIRES_AT]).toBe('2025-01-15T12:00:00Z');
    expect(content.annotations[ANNOTATION_DATA_HASH]).not.toBe('x');
    expect(content.annotations[ANNOTATION_REGISTRIES]).not.toBe('y');
  });

  it('gives the same hash for the same tokens', () => {
    expect(secretContent(sync, tokensFor(sync))!.hash).toBe(secretContent(sync, tokensFor(sync))!.hash);
  });

  it.each<[string, Partial<EcrCredentialSyncSpec> | undefined, ((r: string) => string) | undefined, ((r: string) => Date) | undefined]>([
    ['a new password', undefined, (r) => `new-${r}`, undefined],
    ['a new expiry', undefined, undefined, () => new Date('2025-01-16T00:00:00Z')],
    ['a new template label', { secretTemplate: { labels: { team: 'x' } } }, undefined, undefined],
    ['a new template annotation', { secretTemplate: { annotations: { note: 'x' } } }, undefined, undefined],
    ['an extra hostname', { registries: [SPEC.registries[0]!, { ...(SPEC.registries[1] as PrivateRegistrySpec), hostnames: ['mirror.example.com', 'other.example.com'] }] }, undefined, undefined],
  ])('changes its hash for %s', (_name, specChange, password, expiresAt) => {
    const before = secretContent(sync, tokensFor(sync))!;
    const changed = makeSync('prod', { ...SPEC, ...specChange });
    expect(secretContent(changed, tokensFor(changed, password, expiresAt))!.hash).not.toBe(before.hash);
  });

  it('has no content while any token group lacks a token', () => {
    const tokens = tokensFor(sync);
    tokens.delete([...tokens.keys()][0]!);
    expect(secretContent(sync, tokens)).toBeUndefined();
  });

  it('copes with a token whose expiry ECR did not report (an Invalid Date)', () => {
    const content = secretContent(sync, tokensFor(sync, undefined, () => new Date(Number.NaN)))!;
    expect(content).toBeDefined();
    expect(content.annotations[ANNOTATION_EXPIRES_AT]).toBe('');
  });

  it('annotates the earliest real expiry when only some groups reported one', () => {
    const content = secretContent(sync, tokensFor(sync, undefined, (r) => (r === 'eu-west-1' ? new Date(Number.NaN) : EXPIRES)))!;
    expect(content.annotations[ANNOTATION_EXPIRES_AT]).toBe('2025-01-15T12:00:00Z');
  });

  it('writes the expiry to the second, dropping any milliseconds', () => {
    const content = secretContent(sync, tokensFor(sync, undefined, () => new Date('2025-01-15T09:00:00.789Z')))!;
    expect(content.annotations[ANNOTATION_EXPIRES_AT]).toBe('2025-01-15T09:00:00Z');
  });
});

describe('secretContent with ECR Public', () => {
  const sync = makeSync('prod', { ...SPEC, registries: [...SPEC.registries, { public: true }] });
  const password = (group: TokenGroup) => (group.service === 'ecr-public' ? 'pw-public' : `pw-${group.region}`);
  const tokens = new Map(tokenGroups(sync.spec).map((g) => [g.key, { credential: { username: 'AWS', password: password(g) }, expiresAt: EXPIRES }]));

  it('writes the public token for public.ecr.aws beside the private registries, each with its own token', () => {
    const auths = decode(secretContent(sync, tokens)!.data).auths;
    expect(Object.keys(auths)).toEqual([
      '111111111111.dkr.ecr.us-east-1.amazonaws.com',
      '222222222222.dkr.ecr.eu-west-1.amazonaws.com',
      'mirror.example.com',
      'public.ecr.aws',
    ]);
    expect(auths['public.ecr.aws']!.password).toBe('pw-public');
    expect(auths['111111111111.dkr.ecr.us-east-1.amazonaws.com']!.password).toBe('pw-us-east-1');
    expect(secretContent(sync, tokens)!.annotations[ANNOTATION_REGISTRIES]).toContain(',public.ecr.aws');
  });

  it('has no content while the public token is missing, even with every private one there', () => {
    const publicKey = tokenGroups(sync.spec).find((g) => g.service === 'ecr-public')!.key;
    const without = new Map([...tokens].filter(([key]) => key !== publicKey));
    expect(desiredSecrets(sync, without, ['a'])).toMatchObject({ missingGroups: [publicKey] });
    expect(secretContent(sync, without)).toBeUndefined();
  });
});

describe('contentHash', () => {
  const shape = { type: SECRET_TYPE, data: { b: '2', a: '1' }, labels: { x: '1', y: '2' }, annotations: { p: '1' } };

  it('is stable across calls and key order', () => {
    const reordered = { annotations: { p: '1' }, labels: { y: '2', x: '1' }, data: { a: '1', b: '2' }, type: SECRET_TYPE };
    expect(contentHash(shape, { labels: ['x', 'y'], annotations: ['p'] })).toBe(contentHash(reordered, { labels: ['x', 'y'], annotations: ['p'] }));
  });

  it('ignores labels and annotations the operator does not own', () => {
    const extra = { ...shape, labels: { ...shape.labels, added: 'by-someone' }, annotations: { ...shape.annotations, 'kubectl.kubernetes.io/last-applied-configuration': '{}' } };
    expect(contentHash(extra, { labels: ['x', 'y'], annotations: ['p'] })).toBe(contentHash(shape, { labels: ['x', 'y'], annotations: ['p'] }));
  });

  it('ignores the data-hash annotation, which only restates the data', () => {
    const withHash = { ...shape, annotations: { ...shape.annotations, [ANNOTATION_DATA_HASH]: 'whatever' } };
    expect(contentHash(withHash, ownedKeys(withHash))).toBe(contentHash(shape, ownedKeys(withHash)));
  });

  it.each<[string, object]>([
    ['the type', { type: 'Opaque' }],
    ['a data value', { data: { a: '1', b: '3' } }],
    ['an extra data key', { data: { a: '1', b: '2', c: '3' } }],
    ['an owned label', { labels: { x: '1', y: 'changed' } }],
    ['a missing owned label', { labels: { x: '1' } }],
    ['an owned annotation', { annotations: { p: '2' } }],
  ])('changes with %s', (_name, change) => {
    expect(contentHash({ ...shape, ...change }, { labels: ['x', 'y'], annotations: ['p'] })).not.toBe(contentHash(shape, { labels: ['x', 'y'], annotations: ['p'] }));
  });

  it('tells a missing label from an empty one', () => {
    expect(contentHash({ labels: {} }, { labels: ['x'], annotations: [] })).not.toBe(contentHash({ labels: { x: '' } }, { labels: ['x'], annotations: [] }));
  });
});

describe('desiredSecrets', () => {
  const sync = makeSync('prod', SPEC);

  it('wants the default secret name, regcred, in every target namespace', () => {
    const desired = desiredSecrets(sync, tokensFor(sync), ['a', 'b']);
    expect(desired).toMatchObject({ syncKey: 'prod', secretName: 'regcred', namespaces: ['a', 'b'], missingGroups: [] });
    expect(desired.content).toBeDefined();
  });

  it('uses spec.secretName when set', () => {
    expect(desiredSecrets(makeSync('prod', { ...SPEC, secretName: 'ecr' }), tokensFor(sync), []).secretName).toBe('ecr');
  });

  it('has no content, and names the groups, when a token group has no token', () => {
    const tokens = tokensFor(sync);
    const eu = tokenGroups(SPEC).find((g) => g.region === 'eu-west-1')!.key;
    tokens.delete(eu);
    const desired = desiredSecrets(sync, tokens, ['a']);
    expect(desired.content).toBeUndefined();
    expect('content' in desired).toBe(false);
    expect(desired.missingGroups).toEqual([eu]);
  });

  it('ignores tokens of groups the spec no longer has', () => {
    const tokens = tokensFor(sync);
    tokens.set('env@ap-south-1', { credential: { username: 'AWS', password: 'stale' }, expiresAt: EXPIRES });
    const content = desiredSecrets(sync, tokens, ['a']).content!;
    expect(JSON.stringify(decode(content.data))).not.toContain('stale');
  });
});
