import type { EcrCredentialSyncSpec, RegistrySpec } from '../api/types.ts';
import { baseIdentity, chainKey, describeChain, tokenGroups } from './identity.ts';

const ROLE_A = 'arn:aws:iam::111111111111:role/ecr-pull';
const ROLE_B = 'arn:aws:iam::222222222222:role/ecr-pull';
const WEB_ROLE = 'arn:aws:iam::333333333333:role/operator';

const reg = (accountId: string, region: string, extra: Partial<RegistrySpec> = {}): RegistrySpec => ({ accountId, region, ...extra });
const spec = (registries: RegistrySpec[], extra: Partial<EcrCredentialSyncSpec> = {}): EcrCredentialSyncSpec => ({ registries, namespaces: { names: ['default'] }, ...extra });

/** Each group as "key: accounts". */
const summary = (s: EcrCredentialSyncSpec) => tokenGroups(s).map((g) => `${g.key}: ${g.registries.map((r) => r.accountId).join(',')}`);

describe('tokenGroups', () => {
  it.each<[string, EcrCredentialSyncSpec, string[]]>([
    ['one registry is one group', spec([reg('111111111111', 'us-east-1')]), ['env@us-east-1: 111111111111']],
    [
      'registries of several accounts in one region share one group',
      spec([reg('111111111111', 'us-east-1'), reg('222222222222', 'us-east-1'), reg('333333333333', 'us-east-1')]),
      ['env@us-east-1: 111111111111,222222222222,333333333333'],
    ],
    [
      'one account in two regions is two groups',
      spec([reg('111111111111', 'us-east-1'), reg('111111111111', 'eu-west-1')]),
      ['env@eu-west-1: 111111111111', 'env@us-east-1: 111111111111'],
    ],
    [
      'a per-registry assumeRole makes its own group in the same region',
      spec([reg('111111111111', 'us-east-1'), reg('222222222222', 'us-east-1', { assumeRole: { roleArn: ROLE_B } })]),
      [`env>${ROLE_B}::@us-east-1: 222222222222`, 'env@us-east-1: 111111111111'],
    ],
    [
      'a sync-level assumeRole is shared by every registry of a region',
      spec([reg('111111111111', 'us-east-1'), reg('222222222222', 'us-east-1')], { identity: { assumeRole: { roleArn: ROLE_A } } }),
      [`env>${ROLE_A}::@us-east-1: 111111111111,222222222222`],
    ],
    [
      'a per-registry assumeRole overrides the sync-level one',
      spec([reg('111111111111', 'us-east-1'), reg('222222222222', 'us-east-1', { assumeRole: { roleArn: ROLE_B } })], { identity: { assumeRole: { roleArn: ROLE_A } } }),
      [`env>${ROLE_A}::@us-east-1: 111111111111`, `env>${ROLE_B}::@us-east-1: 222222222222`],
    ],
    [
      'registries assuming the same role in one region share a group',
      spec([reg('111111111111', 'us-east-1', { assumeRole: { roleArn: ROLE_B } }), reg('222222222222', 'us-east-1', { assumeRole: { roleArn: ROLE_B } })]),
      [`env>${ROLE_B}::@us-east-1: 111111111111,222222222222`],
    ],
    [
      'the same role with a different externalId is a different chain',
      spec([
        reg('111111111111', 'us-east-1', { assumeRole: { roleArn: ROLE_B, externalId: 'x' } }),
        reg('222222222222', 'us-east-1', { assumeRole: { roleArn: ROLE_B, externalId: 'y' } }),
      ]),
      [`env>${ROLE_B}:x:@us-east-1: 111111111111`, `env>${ROLE_B}:y:@us-east-1: 222222222222`],
    ],
    [
      'a web identity base is part of the key',
      spec([reg('111111111111', 'us-east-1')], { identity: { webIdentity: { roleArn: WEB_ROLE, tokenFile: '/var/run/token' } } }),
      [`web:${WEB_ROLE}:/var/run/token@us-east-1: 111111111111`],
    ],
    [
      'a ServiceAccount base is part of the key, with the default audience',
      spec([reg('111111111111', 'us-east-1')], { identity: { serviceAccountRef: { namespace: 'ci', name: 'puller' } } }),
      ['sa:ci/puller:sts.amazonaws.com:@us-east-1: 111111111111'],
    ],
  ])('%s', (_name, s, expected) => {
    expect(summary(s)).toEqual(expected);
  });

  it('is sorted by key and does not depend on the order of registries', () => {
    const registries = [reg('111111111111', 'us-west-2'), reg('222222222222', 'eu-west-1'), reg('333333333333', 'ap-south-1', { assumeRole: { roleArn: ROLE_A } })];
    const forward = tokenGroups(spec(registries)).map((g) => g.key);
    const backward = tokenGroups(spec([...registries].reverse())).map((g) => g.key);
    expect(forward).toEqual(backward);
    expect(forward).toEqual([...forward].sort());
  });

  it('carries the chain and region each group needs to fetch its token', () => {
    const [group] = tokenGroups(spec([reg('111111111111', 'eu-west-1', { assumeRole: { roleArn: ROLE_A, sessionName: 's' } })]));
    expect(group).toMatchObject({ region: 'eu-west-1', chain: { base: { kind: 'environment' }, assumeRole: { roleArn: ROLE_A, sessionName: 's' } } });
  });
});

describe('baseIdentity', () => {
  it.each<[string, EcrCredentialSyncSpec['identity'], ReturnType<typeof baseIdentity>]>([
    ['no identity is the operator environment', undefined, { kind: 'environment' }],
    ['only an assumeRole still starts from the environment', { assumeRole: { roleArn: ROLE_A } }, { kind: 'environment' }],
    ['a web identity without a token file', { webIdentity: { roleArn: WEB_ROLE } }, { kind: 'webIdentity', roleArn: WEB_ROLE }],
    ['a ServiceAccount gets the default audience', { serviceAccountRef: { namespace: 'ci', name: 'puller' } }, { kind: 'serviceAccount', namespace: 'ci', name: 'puller', audience: 'sts.amazonaws.com' }],
    [
      'a ServiceAccount keeps its own audience and role',
      { serviceAccountRef: { namespace: 'ci', name: 'puller', audience: 'aud', roleArn: WEB_ROLE } },
      { kind: 'serviceAccount', namespace: 'ci', name: 'puller', audience: 'aud', roleArn: WEB_ROLE },
    ],
  ])('%s', (_name, identity, expected) => {
    expect(baseIdentity(spec([reg('111111111111', 'us-east-1')], identity ? { identity } : {}))).toEqual(expected);
  });
});

describe('chainKey and describeChain', () => {
  it.each<[string, Parameters<typeof chainKey>[0], string, string]>([
    ['the environment', { base: { kind: 'environment' } }, 'env', 'operator web identity'],
    ['the environment then a role', { base: { kind: 'environment' }, assumeRole: { roleArn: ROLE_A } }, `env>${ROLE_A}::`, `operator web identity -> ${ROLE_A}`],
    ['a web identity', { base: { kind: 'webIdentity', roleArn: WEB_ROLE } }, `web:${WEB_ROLE}:`, WEB_ROLE],
    [
      'a ServiceAccount with a role',
      { base: { kind: 'serviceAccount', namespace: 'ci', name: 'puller', audience: 'a', roleArn: WEB_ROLE } },
      `sa:ci/puller:a:${WEB_ROLE}`,
      `serviceaccount ci/puller (${WEB_ROLE})`,
    ],
  ])('%s', (_name, chain, key, description) => {
    expect(chainKey(chain)).toBe(key);
    expect(describeChain(chain)).toBe(description);
  });

  it('a chain description never includes the externalId', () => {
    expect(describeChain({ base: { kind: 'environment' }, assumeRole: { roleArn: ROLE_A, externalId: 'very-secret' } })).not.toContain('very-secret');
  });
});
