import { ANNOTATION_DATA_HASH, ANNOTATION_EXPIRES_AT, LABEL_MANAGED_BY, LABEL_SYNC } from '../api/constants.ts';
import type { EcrCredentialSync, EcrCredentialSyncSpec } from '../api/types.ts';
import { HOUR, makeSync } from '../testing/fakes.ts';
import { DOCKER_CONFIG_KEY, type GroupToken, secretContent } from './desired.ts';
import { sha256Hex } from './hash.ts';
import { resolveGroups, type RuntimeRoles, tokenGroups, tokenScope } from './identity.ts';
import type { ActualSecret } from './plan.ts';
import { recoverTokens, tokenFingerprint, wholeSeconds } from './recover.ts';
import { iso } from './status.ts';

const SPEC: EcrCredentialSyncSpec = {
  registries: [
    { accountId: '111111111111', region: 'us-east-1', hostnames: ['mirror.example.com'] },
    { accountId: '222222222222', region: 'us-east-1' },
    { accountId: '111111111111', region: 'eu-west-1' },
  ],
  namespaces: { selector: {} },
};
const ROLES: RuntimeRoles = { environment: 'arn:aws:iam::111111111111:role/ecr-sync', serviceAccounts: new Map() };
const NOW = new Date('2025-01-15T01:23:45Z');
const EXPIRES = new Date('2025-01-15T13:00:00Z');
const EARLIER = new Date('2025-01-15T10:00:00Z');
/** 12h09m after NOW: ECR's 12 hours, plus the skew allowed. */
const LATE = new Date('2025-01-15T13:32:45Z');
const TOO_LATE = new Date(NOW.getTime() + 13 * HOUR);

const groupsOf = (spec: EcrCredentialSyncSpec, roles = ROLES) => resolveGroups(tokenGroups(spec), roles);

/** A sync whose last status, for its generation, named the token `${password}-${region}` of every group (`-public.ecr.aws` for ECR Public's), expiring at `reported`. */
function synced(
  o: { spec?: EcrCredentialSyncSpec; generation?: number; observedGeneration?: number; reported?: (region: string) => Date; password?: string; roles?: RuntimeRoles } = {},
): EcrCredentialSync {
  const { spec = SPEC, generation = 1, observedGeneration = generation, reported = () => EXPIRES, password = 'pw', roles = ROLES } = o;
  const tokens = groupsOf(spec, roles).map((g) => ({
    region: g.region,
    ...(g.service === 'ecr-public' ? { public: true } : {}),
    identity: g.identity,
    expiresAt: iso(reported(g.region)),
    fingerprint: tokenFingerprint({ username: 'AWS', password: `${password}-${tokenScope(g)}` }),
  }));
  return { ...makeSync('prod', spec, { generation, uid: 'uid-prod' }), status: { observedGeneration, tokens } };
}
const SYNC = synced();
const withTokens = (sync: EcrCredentialSync, edit: (t: NonNullable<NonNullable<EcrCredentialSync['status']>['tokens']>[number]) => object): EcrCredentialSync => ({
  ...sync,
  status: { ...sync.status, tokens: sync.status!.tokens!.map((t) => ({ ...t, ...edit(t) }) as typeof t) },
});

/** A secret exactly as the operator writes it, with password `${password}-${region}`. */
function written(namespace: string, password = 'pw', expiresAt = (_region: string) => EXPIRES, sync = SYNC): ActualSecret {
  const tokens = new Map<string, GroupToken>(
    tokenGroups(sync.spec).map((g) => [g.key, { credential: { username: 'AWS', password: `${password}-${tokenScope(g)}` }, expiresAt: expiresAt(g.region) }]),
  );
  const content = secretContent(sync, tokens)!;
  return { namespace, name: 'regcred', type: content.type, data: content.data, labels: content.labels, annotations: content.annotations, ownerReferences: [{ ...content.owner!, controller: true }] };
}

/** Replaces the docker config, and its hash annotation too unless `rehash` is false. */
function withJson(secret: ActualSecret, edit: (json: string) => string, rehash = true): ActualSecret {
  const json = edit(Buffer.from(secret.data![DOCKER_CONFIG_KEY]!, 'base64').toString('utf8'));
  return {
    ...secret,
    data: { [DOCKER_CONFIG_KEY]: Buffer.from(json).toString('base64') },
    annotations: { ...secret.annotations, ...(rehash ? { [ANNOTATION_DATA_HASH]: sha256Hex(json) } : {}) },
  };
}
const withAnnotations = (secret: ActualSecret, annotations: Record<string, string | undefined>): ActualSecret => ({
  ...secret,
  annotations: Object.fromEntries(Object.entries({ ...secret.annotations, ...annotations }).filter((e): e is [string, string] => e[1] !== undefined)),
});
/** The mirror, a host of the us-east-1 group, with a credential of its own. */
const mirrorApart = (json: string) => {
  const config = JSON.parse(json);
  config.auths['mirror.example.com'] = { username: 'AWS', password: 'x', auth: Buffer.from('AWS:x').toString('base64') };
  return JSON.stringify(config);
};

const BOTH = { 'env@eu-west-1': `pw-eu-west-1 ${iso(EXPIRES)}`, 'env@us-east-1': `pw-us-east-1 ${iso(EXPIRES)}` };
/** Nothing learned: fetch. */
const NONE = 'none';
/** Nothing learned, and every secret holds another token than the status names. */
const UNSEEN = 'unseen';

/** What was learned, as "password expiry" by group key, or why nothing was. */
const learned = (sync: EcrCredentialSync, secrets: ActualSecret[], now = NOW, roles = ROLES) => {
  const recovery = recoverTokens(sync, groupsOf(sync.spec, roles), secrets, now);
  if (recovery.kind !== 'learned') return recovery.kind;
  return Object.fromEntries([...recovery.tokens].map(([key, t]) => [key, `${t.credential.password} ${iso(t.expiresAt)}`]));
};

describe('recoverTokens', () => {
  it.each<[string, EcrCredentialSync, ActualSecret[], Record<string, string> | string]>([
    ['a secret the sync wrote gives back the token of every group, with its expiry', SYNC, [written('a')], BOTH],
    ['many secrets holding the same token give it back once', SYNC, [written('a'), written('b'), written('c')], BOTH],
    [
      'each group takes the expiry the status names for it, though the secret records only the earliest',
      synced({ reported: (r) => (r === 'eu-west-1' ? EARLIER : EXPIRES) }),
      [written('a', 'pw', (r) => (r === 'eu-west-1' ? EARLIER : EXPIRES))],
      { 'env@eu-west-1': `pw-eu-west-1 ${iso(EARLIER)}`, 'env@us-east-1': `pw-us-east-1 ${iso(EXPIRES)}` },
    ],
    ['no secrets give nothing', SYNC, [], NONE],
    // Ownership.
    ['a secret of another sync is not learned from', SYNC, [{ ...written('a'), labels: { [LABEL_MANAGED_BY]: 'ecr-credential-sync', [LABEL_SYNC]: 'staging' } }], NONE],
    ['a secret without the managed-by label is not learned from', SYNC, [{ ...written('a'), labels: { [LABEL_SYNC]: 'prod' } }], NONE],
    ['a secret labelled as the sync\'s without its owner reference is not learned from', SYNC, [{ ...written('a'), ownerReferences: undefined }], NONE],
    // The spec it was written for.
    ['a secret written for other registries is stale', SYNC, [written('a', 'pw', () => EXPIRES, synced({ spec: { ...SPEC, registries: SPEC.registries.slice(0, 1).concat(SPEC.registries.slice(2)) } }))], NONE],
    ['a secret written before the secret template changed is stale', synced({ spec: { ...SPEC, secretTemplate: { labels: { team: 'x' } } } }), [written('a')], NONE],
    ['a secret whose status is from an older generation is not trusted: the spec changed since', synced({ generation: 2, observedGeneration: 1 }), [written('a')], NONE],
    ['a secret is not trusted when the sync has no status', makeSync('prod', SPEC), [written('a')], NONE],
    ['a secret is not trusted when the status named no token for some group', { ...SYNC, status: { ...SYNC.status, tokens: SYNC.status!.tokens!.slice(1) } }, [written('a')], NONE],
    ['a secret is not trusted when the status named another identity for a group', withTokens(SYNC, () => ({ identity: 'arn:aws:iam::999999999999:role/old' })), [written('a')], NONE],
    ['a secret is not trusted when the status, written before fingerprints were, names none', withTokens(SYNC, () => ({ fingerprint: undefined })), [written('a')], NONE],
    // The payload.
    ['a host that holds another credential than the rest of its group spoils the secret', SYNC, [withJson(written('a'), mirrorApart)], NONE],
    ['a payload that is not JSON is not learned from', SYNC, [withJson(written('a'), (json) => json.slice(0, -1))], NONE],
    ['a payload without auths is not learned from', SYNC, [withJson(written('a'), () => '{"auths":null}')], NONE],
    ['a payload that lost a host is not learned from', SYNC, [withJson(written('a'), (json) => json.replace('mirror.example.com', 'mirror.example.org'))], NONE],
    ['a payload edited by hand, its hash annotation left as it was, holds another token', SYNC, [withJson(written('a'), (json) => json.replaceAll('pw-', 'hand-'), false)], UNSEEN],
    ['a token forged as the operator would write it, hash and a later expiry and all, is not learned', SYNC, [written('a', 'forged', () => LATE)], UNSEEN],
    ['a secret without its docker config is not learned from', SYNC, [{ ...written('a'), data: {} }], NONE],
    ['a secret whose type was changed is not learned from', SYNC, [{ ...written('a'), type: 'Opaque' }], NONE],
    // The expiry.
    ['a secret without an expiry annotation is not learned from', SYNC, [withAnnotations(written('a'), { [ANNOTATION_EXPIRES_AT]: undefined })], NONE],
    ['a secret with an empty expiry is not learned from', SYNC, [withAnnotations(written('a'), { [ANNOTATION_EXPIRES_AT]: '' })], NONE],
    ['a secret with an unparsable expiry is not learned from', SYNC, [withAnnotations(written('a'), { [ANNOTATION_EXPIRES_AT]: 'soon' })], NONE],
    ['a secret that says it expires later than the status reported is not learned from', SYNC, [written('a', 'pw', () => new Date(EXPIRES.getTime() + 1000))], NONE],
    ['a token the status says is past its expiry is not learned', synced({ reported: () => new Date(NOW.getTime() - 1000) }), [written('a', 'pw', () => new Date(NOW.getTime() - 1000))], NONE],
    ['a token the status says expires this very second is not learned', synced({ reported: () => NOW }), [written('a', 'pw', () => NOW)], NONE],
    ['a token the status says expires later than a fresh token would is not learned', synced({ reported: () => TOO_LATE }), [written('a', 'pw', () => TOO_LATE)], NONE],
    [
      'a token that expires within a fresh token\'s lifetime, give or take ten minutes, is learned',
      synced({ reported: () => LATE }),
      [written('a', 'pw', () => LATE)],
      { 'env@eu-west-1': `pw-eu-west-1 ${iso(LATE)}`, 'env@us-east-1': `pw-us-east-1 ${iso(LATE)}` },
    ],
    // Secrets that disagree.
    ['when secrets disagree, the one holding the tokens the status names wins, though another expires later', SYNC, [written('a', 'new', () => LATE), written('b', 'pw'), written('c', 'old', () => EARLIER)], BOTH],
    ['when secrets disagree, the one the status names wins in whatever order they are listed', SYNC, [written('c', 'pw'), written('a', 'old', () => EARLIER)], BOTH],
    ['a secret that cannot be trusted does not hide one that can', SYNC, [withJson(written('a'), mirrorApart), written('b')], BOTH],
    ['an expiry edited by hand to last longer than the status reported does not win', SYNC, [withAnnotations(written('a', 'new'), { [ANNOTATION_EXPIRES_AT]: '2025-01-15T13:30:00Z' }), written('b')], BOTH],
    ['when every secret holds another token than the status names, it says so: the list may lag behind the status', SYNC, [written('a', 'old'), written('b', 'old', () => EARLIER)], UNSEEN],
    ['a secret of another sync does not stop it saying so', SYNC, [written('a', 'old'), { ...written('b'), labels: { [LABEL_MANAGED_BY]: 'ecr-credential-sync', [LABEL_SYNC]: 'staging' } }], UNSEEN],
    ['when some secret holds no other token but is stale, nothing is learned and no lag is suspected', SYNC, [written('a', 'old'), { ...written('b'), type: 'Opaque' }], NONE],
  ])('%s', (_name, sync, secrets, expected) => {
    expect(learned(sync, secrets)).toEqual(expected);
  });

  it('gives back what the operator wrote for every kind of identity chain', () => {
    const spec: EcrCredentialSyncSpec = {
      registries: [
        { accountId: '111111111111', region: 'us-east-1' },
        { accountId: '222222222222', region: 'us-east-1', assumeRole: { roleArn: 'arn:aws:iam::222222222222:role/pull', externalId: 'x' } },
        { accountId: '333333333333', region: 'cn-north-1', hostnames: ['registry.local:5000'] },
      ],
      namespaces: { names: ['a'] },
      identity: { serviceAccountRef: { namespace: 'ci', name: 'builder', audience: 'openshift' }, assumeRole: { roleArn: 'arn:aws:iam::111111111111:role/central' } },
    };
    const sync = synced({ spec });
    const keys = tokenGroups(spec).map((g) => g.key);
    expect(keys).toHaveLength(3);
    expect(Object.keys(learned(sync, [written('a', 'pw', () => EXPIRES, sync)])).sort()).toEqual([...keys].sort());
  });

  it('gives two groups of the same identity and region each its own token', () => {
    // The same role assumed with two external IDs: two groups, which the status names alike.
    const role = { roleArn: 'arn:aws:iam::222222222222:role/pull' };
    const spec: EcrCredentialSyncSpec = {
      registries: [
        { accountId: '111111111111', region: 'us-east-1', assumeRole: { ...role, externalId: 'a' } },
        { accountId: '222222222222', region: 'us-east-1', assumeRole: { ...role, externalId: 'b' } },
      ],
      namespaces: { names: ['a'] },
    };
    const groups = groupsOf(spec);
    expect(new Set(groups.map((g) => g.identity)).size).toBe(1);
    const tokens = new Map<string, GroupToken>(groups.map((g, i) => [g.key, { credential: { username: 'AWS', password: `pw-${i}` }, expiresAt: EXPIRES }]));
    const status = groups.map((g, i) => ({ region: g.region, identity: g.identity, expiresAt: iso(EXPIRES), fingerprint: tokenFingerprint({ username: 'AWS', password: `pw-${i}` }) }));
    const sync: EcrCredentialSync = { ...makeSync('prod', spec, { uid: 'uid-prod' }), status: { observedGeneration: 1, tokens: status.reverse() } };
    const content = secretContent(sync, tokens)!;
    const secret: ActualSecret = { namespace: 'a', name: 'regcred', type: content.type, data: content.data, labels: content.labels, annotations: content.annotations, ownerReferences: [{ ...content.owner!, controller: true }] };
    expect(learned(sync, [secret])).toEqual(Object.fromEntries(groups.map((g, i) => [g.key, `pw-${i} ${iso(EXPIRES)}`])));
  });

  describe('with ECR Public beside a private registry of us-east-1, under one identity', () => {
    const spec: EcrCredentialSyncSpec = { registries: [{ accountId: '111111111111', region: 'us-east-1' }, { public: true }], namespaces: { names: ['a'] } };
    const sync = synced({ spec });
    const both = { 'env@public.ecr.aws': `pw-public.ecr.aws ${iso(EXPIRES)}`, 'env@us-east-1': `pw-us-east-1 ${iso(EXPIRES)}` };
    /** The secret with the credentials of public.ecr.aws and the private host swapped (and rehashed). */
    const swapped = (json: string) => {
      const config = JSON.parse(json);
      const host = '111111111111.dkr.ecr.us-east-1.amazonaws.com';
      [config.auths[host], config.auths['public.ecr.aws']] = [config.auths['public.ecr.aws'], config.auths[host]];
      return JSON.stringify(config);
    };

    it.each<[string, EcrCredentialSync, ActualSecret[], Record<string, string> | string]>([
      ['each token goes back to its own group, though both were fetched in us-east-1 by the same identity', sync, [written('a', 'pw', () => EXPIRES, sync)], both],
      ['a status that does not say which token is the public one vouches for neither', withTokens(sync, () => ({ public: undefined })), [written('a', 'pw', () => EXPIRES, sync)], NONE],
      ['a status that calls both tokens public vouches for neither', withTokens(sync, () => ({ public: true })), [written('a', 'pw', () => EXPIRES, sync)], NONE],
      ['the private token written for public.ecr.aws, and the public one for the private host, are not taken', sync, [withJson(written('a', 'pw', () => EXPIRES, sync), swapped)], UNSEEN],
    ])('%s', (_name, s, secrets, expected) => {
      expect(learned(s, secrets)).toEqual(expected);
    });
  });

  it.each<[string, EcrCredentialSyncSpec, RuntimeRoles]>([
    ['the operator\'s own role is another than when the status was written', SPEC, { ...ROLES, environment: 'arn:aws:iam::111111111111:role/ecr-sync-v2' }],
    ['the operator has no role of its own any more', SPEC, { ...ROLES, environment: undefined }],
    [
      'the ServiceAccount it uses is annotated with another role than when the status was written',
      { ...SPEC, identity: { serviceAccountRef: { namespace: 'ci', name: 'puller' } } },
      { ...ROLES, serviceAccounts: new Map([['ci/puller', 'arn:aws:iam::111111111111:role/other']]) },
    ],
  ])('nothing is learned when %s', (_name, spec, roles) => {
    const before: RuntimeRoles = { ...ROLES, serviceAccounts: new Map([['ci/puller', 'arn:aws:iam::111111111111:role/puller']]) };
    const sync = synced({ spec, roles: before });
    const secrets = [written('a', 'pw', () => EXPIRES, sync)];
    expect(Object.keys(learned(sync, secrets, NOW, before))).toEqual(tokenGroups(spec).map((g) => g.key));
    expect(learned(sync, secrets, NOW, roles)).toEqual(NONE);
  });

  it.each<[string, EcrCredentialSyncSpec, RuntimeRoles]>([
    ['the operator\'s own identity, with no role named (Pod Identity, an instance profile, static keys)', SPEC, { ...ROLES, environment: undefined }],
    [
      'the operator\'s own identity with no role named, though it then assumes a named one',
      { ...SPEC, identity: { assumeRole: { roleArn: 'arn:aws:iam::111111111111:role/central' } } },
      { ...ROLES, environment: undefined },
    ],
  ])('nothing is learned for %s: a status written under another role would read the same', (_name, spec, roles) => {
    const sync = synced({ spec, roles });
    expect(learned(sync, [written('a', 'pw', () => EXPIRES, sync)], NOW, roles)).toEqual(NONE);
    expect(learned(sync, [written('a', 'old', () => EXPIRES, sync)], NOW, roles)).toEqual(NONE);
  });

  it('counts a token learned back as fetched 12 hours before it expires, but not after now', () => {
    const fetchedAt = (reported: Date) => {
      const sync = synced({ reported: () => reported });
      const recovery = recoverTokens(sync, groupsOf(SPEC), [written('a', 'pw', () => reported, sync)], NOW);
      return recovery.kind === 'learned' ? [...recovery.tokens.values()].map((t) => iso(t.fetchedAt)) : recovery.kind;
    };
    expect(fetchedAt(EXPIRES)).toEqual(['2025-01-15T01:00:00Z', '2025-01-15T01:00:00Z']);
    expect(fetchedAt(LATE)).toEqual([iso(NOW), iso(NOW)]);
  });
});

describe('tokenFingerprint', () => {
  it('tells tokens apart and gives nothing of the token away', () => {
    const password = 'eyJwYXlsb2FkIjoiZXhhbXBsZSIsImRhdGFrZXkiOiJzZWNyZXQifQ==';
    const fingerprint = tokenFingerprint({ username: 'AWS', password });
    expect(fingerprint).toMatch(/^[0-9a-f]{16}$/);
    expect(tokenFingerprint({ username: 'AWS', password: `${password}x` })).not.toBe(fingerprint);
    for (const text of [password, Buffer.from(`AWS:${password}`).toString('base64')]) {
      for (let i = 0; i + 8 <= text.length; i++) expect(fingerprint).not.toContain(text.slice(i, i + 8));
    }
  });
});

describe('wholeSeconds', () => {
  it('drops the milliseconds, as the expiry annotation does', () => {
    expect(wholeSeconds(new Date('2025-01-15T13:23:45.678Z')).toISOString()).toBe('2025-01-15T13:23:45.000Z');
  });

  it('keeps an expiry ECR did not report invalid', () => {
    expect(Number.isNaN(wholeSeconds(new Date(Number.NaN)).getTime())).toBe(true);
  });
});
