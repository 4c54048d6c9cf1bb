import { ANNOTATION_DATA_HASH, ANNOTATION_EXPIRES_AT, LABEL_MANAGED_BY, LABEL_SYNC } from '../api/constants.ts';
import type { EcrCredentialSync, EcrCredentialSyncSpec } from '../api/types.ts';
import { HOUR, makeSync } from '../testing/fakes.ts';
import { DOCKER_CONFIG_KEY, type GroupToken, secretContent } from './desired.ts';
import { sha256Hex } from './hash.ts';
import { describeChain, tokenGroups } from './identity.ts';
import type { ActualSecret } from './plan.ts';
import { recoverTokens, wholeSeconds } from './recover.ts';
import { iso } from './status.ts';

const SPEC: EcrCredentialSyncSpec = {
  registries: [
    { accountId: '111111111111', region: 'us-east-1', hostnames: ['mirror.example.com'] },
    { accountId: '222222222222', region: 'us-east-1' },
    { accountId: '111111111111', region: 'eu-west-1' },
  ],
  namespaces: { selector: {} },
};
const NOW = new Date('2025-01-15T01:23:45Z');
const EXPIRES = new Date('2025-01-15T13:00:00Z');
const EARLIER = new Date('2025-01-15T10:00:00Z');
/** 12h09m after NOW: ECR's 12 hours, plus the skew allowed. */
const LATE = new Date('2025-01-15T13:32:45Z');
const TOO_LATE = new Date(NOW.getTime() + 13 * HOUR);

/** A sync whose last status, for its generation, named a token for every group, expiring at `reported`. */
function synced(spec: EcrCredentialSyncSpec = SPEC, generation = 1, observedGeneration = generation, reported = EXPIRES): EcrCredentialSync {
  const tokens = tokenGroups(spec).map((g) => ({ region: g.region, identity: describeChain(g.chain), expiresAt: iso(reported) }));
  return { ...makeSync('prod', spec, { generation }), status: { observedGeneration, tokens } };
}
const SYNC = synced();

/** A secret exactly as the operator writes it, with password `${password}-${region}`. */
function written(namespace: string, password = 'pw', expiresAt = (_region: string) => EXPIRES, sync = SYNC): ActualSecret {
  const tokens = new Map<string, GroupToken>(
    tokenGroups(sync.spec).map((g) => [g.key, { credential: { username: 'AWS', password: `${password}-${g.region}` }, expiresAt: expiresAt(g.region) }]),
  );
  const content = secretContent(sync, tokens)!;
  return { namespace, name: 'regcred', type: content.type, data: content.data, labels: content.labels, annotations: content.annotations };
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
const NOTHING = {};

/** What was learned, as "password expiry" by group key. */
const learned = (sync: EcrCredentialSync, secrets: ActualSecret[], now = NOW) =>
  Object.fromEntries([...recoverTokens(sync, secrets, now)].map(([key, t]) => [key, `${t.credential.password} ${iso(t.expiresAt)}`]));

describe('recoverTokens', () => {
  it.each<[string, EcrCredentialSync, ActualSecret[], Record<string, string>]>([
    ['a secret the sync wrote gives back the token of every group, with its expiry', SYNC, [written('a')], BOTH],
    ['many secrets holding the same token give it back once', SYNC, [written('a'), written('b'), written('c')], BOTH],
    [
      'the earliest expiry in the secret stands for every group',
      SYNC,
      [written('a', 'pw', (r) => (r === 'eu-west-1' ? EARLIER : EXPIRES))],
      { 'env@eu-west-1': `pw-eu-west-1 ${iso(EARLIER)}`, 'env@us-east-1': `pw-us-east-1 ${iso(EARLIER)}` },
    ],
    ['no secrets give nothing', SYNC, [], NOTHING],
    // Ownership.
    ['a secret of another sync is not learned from', SYNC, [{ ...written('a'), labels: { [LABEL_MANAGED_BY]: 'ecr-credential-sync', [LABEL_SYNC]: 'staging' } }], NOTHING],
    ['a secret without the managed-by label is not learned from', SYNC, [{ ...written('a'), labels: { [LABEL_SYNC]: 'prod' } }], NOTHING],
    // The spec it was written for.
    ['a secret written for other registries is stale', SYNC, [written('a', 'pw', () => EXPIRES, synced({ ...SPEC, registries: SPEC.registries.slice(0, 1).concat(SPEC.registries.slice(2)) }))], NOTHING],
    ['a secret written before the secret template changed is stale', synced({ ...SPEC, secretTemplate: { labels: { team: 'x' } } }), [written('a')], NOTHING],
    ['a secret whose status is from an older generation is not trusted: the spec changed since', synced(SPEC, 2, 1), [written('a')], NOTHING],
    ['a secret is not trusted when the sync has no status', makeSync('prod', SPEC), [written('a')], NOTHING],
    [
      'a secret is not trusted when the status named no token for some group: its identity may have changed',
      { ...SYNC, status: { ...SYNC.status, tokens: SYNC.status!.tokens!.slice(1) } },
      [written('a')],
      NOTHING,
    ],
    [
      'a secret is not trusted when the status named another identity for a group',
      { ...SYNC, status: { ...SYNC.status, tokens: SYNC.status!.tokens!.map((t) => ({ ...t, identity: 'arn:aws:iam::999999999999:role/old' })) } },
      [written('a')],
      NOTHING,
    ],
    // The payload.
    ['a host that holds another credential than the rest of its group spoils the secret', SYNC, [withJson(written('a'), mirrorApart)], NOTHING],
    ['a payload that is not JSON is not learned from', SYNC, [withJson(written('a'), (json) => json.slice(0, -1))], NOTHING],
    ['a payload without auths is not learned from', SYNC, [withJson(written('a'), () => '{"auths":null}')], NOTHING],
    ['a payload that lost a host is not learned from', SYNC, [withJson(written('a'), (json) => json.replace('mirror.example.com', 'mirror.example.org'))], NOTHING],
    ['a payload edited by hand, its hash annotation left as it was, is not learned from', SYNC, [withJson(written('a'), (json) => json.replaceAll('pw-', 'hand-'), false)], NOTHING],
    ['a secret without its docker config is not learned from', SYNC, [{ ...written('a'), data: {} }], NOTHING],
    ['a secret whose type was changed is not learned from', SYNC, [{ ...written('a'), type: 'Opaque' }], NOTHING],
    // The expiry.
    ['a secret without an expiry annotation is not learned from', SYNC, [withAnnotations(written('a'), { [ANNOTATION_EXPIRES_AT]: undefined })], NOTHING],
    ['a secret with an empty expiry, as ECR reported none, is not learned from', SYNC, [withAnnotations(written('a'), { [ANNOTATION_EXPIRES_AT]: '' })], NOTHING],
    ['a secret with an unparsable expiry is not learned from', SYNC, [withAnnotations(written('a'), { [ANNOTATION_EXPIRES_AT]: 'soon' })], NOTHING],
    ['a secret whose expiry is past is not learned from', SYNC, [written('a', 'pw', () => new Date(NOW.getTime() - 1000))], NOTHING],
    ['a secret that expires this very second is not learned from', SYNC, [written('a', 'pw', () => NOW)], NOTHING],
    ['a secret that expires later than a fresh token would is not learned from', synced(SPEC, 1, 1, TOO_LATE), [written('a', 'pw', () => TOO_LATE)], NOTHING],
    [
      'a secret that expires within a fresh token\'s lifetime, give or take ten minutes, is learned from',
      synced(SPEC, 1, 1, LATE),
      [written('a', 'pw', () => LATE)],
      { 'env@eu-west-1': `pw-eu-west-1 ${iso(LATE)}`, 'env@us-east-1': `pw-us-east-1 ${iso(LATE)}` },
    ],
    ['a secret that says it expires later than any token the status reported is not learned from', SYNC, [written('a', 'pw', () => new Date(EXPIRES.getTime() + 1000))], NOTHING],
    // Secrets that disagree.
    [
      'when secrets disagree, the token that expires last wins',
      SYNC,
      [written('a', 'old', () => EARLIER), written('b', 'pw'), written('c', 'old', () => EARLIER)],
      BOTH,
    ],
    ['when secrets disagree, the token that expires last wins in whatever order they are listed', SYNC, [written('c', 'pw'), written('a', 'old', () => EARLIER)], BOTH],
    ['when secrets disagree and expire together, the first by namespace wins', SYNC, [written('b', 'other'), written('a', 'pw')], BOTH],
    ['a secret that cannot be trusted does not hide one that can', SYNC, [withJson(written('a', 'new'), mirrorApart), written('b', 'pw', () => EXPIRES)], BOTH],
    ['an expiry edited by hand to last longer than the status reported does not win', SYNC, [withAnnotations(written('a', 'new'), { [ANNOTATION_EXPIRES_AT]: '2025-01-15T13:30:00Z' }), written('b')], BOTH],
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
    const sync = synced(spec);
    const keys = tokenGroups(spec).map((g) => g.key);
    expect(keys).toHaveLength(3);
    expect(Object.keys(learned(sync, [written('a', 'pw', () => EXPIRES, sync)])).sort()).toEqual([...keys].sort());
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
