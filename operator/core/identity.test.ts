import type { EcrCredentialSyncSpec, PrivateRegistrySpec, RegistrySpec } from '../api/types.ts';
import { baseIdentity, chainKey, describeChain, resolveGroups, type RuntimeRoles, tokenGroups, tokenScope } from './identity.ts';

const ROLE_A = 'arn:aws:iam::111111111111:role/ecr-pull';
const ROLE_B = 'arn:aws:iam::222222222222:role/ecr-pull';
const WEB_ROLE = 'arn:aws:iam::333333333333:role/operator';
/** The operator's default chain's principal, as STS names it without the session (core/principal.ts). */
const POD_ROLE = 'arn:aws:sts::444444444444:assumed-role/ecr-sync';

const reg = (accountId: string, region: string, extra: Partial<PrivateRegistrySpec> = {}): PrivateRegistrySpec => ({ accountId, region, ...extra });
const spec = (registries: RegistrySpec[], extra: Partial<EcrCredentialSyncSpec> = {}): EcrCredentialSyncSpec => ({ registries, namespaces: { names: ['default'] }, ...extra });

/** Each group as "key: accounts". */
const PUBLIC: RegistrySpec = { public: true };
const summary = (s: EcrCredentialSyncSpec) => tokenGroups(s).map((g) => `${g.key}: ${g.registries.map((r) => r.accountId ?? 'public').join(',')}`);

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
    [
      'ECR Public is a group of its own, apart from the private registries of us-east-1',
      spec([reg('111111111111', 'us-east-1'), PUBLIC]),
      ['env@public.ecr.aws: public', 'env@us-east-1: 111111111111'],
    ],
    ['ECR Public named with its region is the same group', spec([{ public: true, region: 'us-east-1' }]), ['env@public.ecr.aws: public']],
    [
      'ECR Public takes the sync-level assumeRole like any registry',
      spec([PUBLIC, reg('111111111111', 'eu-west-1')], { identity: { assumeRole: { roleArn: ROLE_A } } }),
      [`env>${ROLE_A}::@eu-west-1: 111111111111`, `env>${ROLE_A}::@public.ecr.aws: public`],
    ],
    [
      'ECR Public with its own assumeRole chains that role',
      spec([{ public: true, assumeRole: { roleArn: ROLE_B } }, reg('111111111111', 'us-east-1')]),
      [`env>${ROLE_B}::@public.ecr.aws: public`, 'env@us-east-1: 111111111111'],
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

  it('fetches ECR Public in us-east-1 from the ecr-public service, and private registries from ecr, whatever the region', () => {
    const groups = tokenGroups(spec([reg('111111111111', 'eu-west-1'), PUBLIC]));
    expect(groups.map((g) => [g.service, g.region, tokenScope(g)])).toEqual([
      ['ecr', 'eu-west-1', 'eu-west-1'],
      ['ecr-public', 'us-east-1', 'public.ecr.aws'],
    ]);
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
  const web = { environment: WEB_ROLE };
  const none = { environment: undefined };
  it.each<[string, Parameters<typeof chainKey>[0], Parameters<typeof describeChain>[1], string, string]>([
    ['the environment', { base: { kind: 'environment' } }, web, 'env', `operator web identity (${WEB_ROLE})`],
    ['the environment without a web identity is the default chain', { base: { kind: 'environment' } }, none, 'env', 'operator default credentials'],
    ['the default chain names the principal STS said it stands for', { base: { kind: 'environment' } }, { environment: undefined, defaultChain: POD_ROLE }, 'env', `operator default credentials (${POD_ROLE})`],
    ['the default chain then a role', { base: { kind: 'environment' }, assumeRole: { roleArn: ROLE_A } }, none, `env>${ROLE_A}::`, `operator default credentials -> ${ROLE_A}`],
    [
      'the default chain\'s principal then a role',
      { base: { kind: 'environment' }, assumeRole: { roleArn: ROLE_A } },
      { environment: undefined, defaultChain: POD_ROLE },
      `env>${ROLE_A}::`,
      `operator default credentials (${POD_ROLE}) -> ${ROLE_A}`,
    ],
    ['an IAM user behind static keys is named as STS names it', { base: { kind: 'environment' } }, { environment: undefined, defaultChain: 'arn:aws:iam::444444444444:user/ci' }, 'env', 'operator default credentials (arn:aws:iam::444444444444:user/ci)'],
    ['the environment then a role', { base: { kind: 'environment' }, assumeRole: { roleArn: ROLE_A } }, web, `env>${ROLE_A}::`, `operator web identity (${WEB_ROLE}) -> ${ROLE_A}`],
    ['a web identity', { base: { kind: 'webIdentity', roleArn: WEB_ROLE } }, { environment: ROLE_B }, `web:${WEB_ROLE}:`, WEB_ROLE],
    ['a web identity ignores the default chain\'s principal', { base: { kind: 'webIdentity', roleArn: WEB_ROLE } }, { environment: undefined, defaultChain: POD_ROLE }, `web:${WEB_ROLE}:`, WEB_ROLE],
    [
      'a ServiceAccount with a role',
      { base: { kind: 'serviceAccount', namespace: 'ci', name: 'puller', audience: 'a', roleArn: WEB_ROLE } },
      { environment: ROLE_B },
      `sa:ci/puller:a:${WEB_ROLE}`,
      `serviceaccount ci/puller (${WEB_ROLE})`,
    ],
    ['a ServiceAccount without a role', { base: { kind: 'serviceAccount', namespace: 'ci', name: 'puller', audience: 'a' } }, { environment: ROLE_B }, 'sa:ci/puller:a:', 'serviceaccount ci/puller'],
  ])('%s', (_name, chain, operator, key, description) => {
    expect(chainKey(chain)).toBe(key);
    expect(describeChain(chain, operator)).toBe(description);
  });

  it('a chain description never includes the externalId', () => {
    expect(describeChain({ base: { kind: 'environment' }, assumeRole: { roleArn: ROLE_A, externalId: 'very-secret' } }, { environment: WEB_ROLE })).not.toContain('very-secret');
  });
});

describe('resolveGroups', () => {
  const roles = { environment: WEB_ROLE, serviceAccounts: new Map([['ci/puller', ROLE_B]]) };
  const resolved = (identity: EcrCredentialSyncSpec['identity']) => resolveGroups(tokenGroups(spec([reg('111111111111', 'us-east-1')], { identity })), roles)[0]!;

  it.each<[string, EcrCredentialSyncSpec['identity'], string | undefined, string]>([
    ['a ServiceAccount takes the role it is annotated with', { serviceAccountRef: { namespace: 'ci', name: 'puller' } }, ROLE_B, `serviceaccount ci/puller (${ROLE_B})`],
    ['a ServiceAccount given a role in the spec keeps it over its annotation', { serviceAccountRef: { namespace: 'ci', name: 'puller', roleArn: ROLE_A } }, ROLE_A, `serviceaccount ci/puller (${ROLE_A})`],
    ['a ServiceAccount that is not annotated, or not there, has no role', { serviceAccountRef: { namespace: 'ci', name: 'other' } }, undefined, 'serviceaccount ci/other'],
    ['the environment names the operator\'s own role', undefined, undefined, `operator web identity (${WEB_ROLE})`],
    ['a chain takes its base\'s role before the one it assumes', { serviceAccountRef: { namespace: 'ci', name: 'puller' }, assumeRole: { roleArn: ROLE_A } }, ROLE_B, `serviceaccount ci/puller (${ROLE_B}) -> ${ROLE_A}`],
  ])('%s', (_name, identity, roleArn, description) => {
    const group = resolved(identity);
    expect((group.chain.base as { roleArn?: string }).roleArn).toBe(roleArn);
    expect(group.identity).toBe(description);
  });

  it.each<[string, EcrCredentialSyncSpec['identity'], RuntimeRoles, boolean]>([
    ['the environment with the operator\'s role knows it', undefined, roles, true],
    ['the environment without AWS_ROLE_ARN does not', undefined, { ...roles, environment: undefined }, false],
    ['the environment without AWS_ROLE_ARN does not, though it then assumes a role', { assumeRole: { roleArn: ROLE_A } }, { ...roles, environment: undefined }, false],
    ['the environment without AWS_ROLE_ARN knows it once STS has named its principal', undefined, { ...roles, environment: undefined, defaultChain: POD_ROLE }, true],
    ['the default chain\'s named principal then a role knows it', { assumeRole: { roleArn: ROLE_A } }, { ...roles, environment: undefined, defaultChain: POD_ROLE }, true],
    ['a web identity knows its role', { webIdentity: { roleArn: ROLE_A } }, { ...roles, environment: undefined }, true],
    ['an annotated ServiceAccount knows its role', { serviceAccountRef: { namespace: 'ci', name: 'puller' } }, roles, true],
  ])('%s', (_name, identity, runtime, known) => {
    expect(resolveGroups(tokenGroups(spec([reg('111111111111', 'us-east-1')], { identity })), runtime)[0]!.roleKnown).toBe(known);
  });

  it('keeps the key the spec gives, so a role that changes does not lose the cached token\'s place', () => {
    const groups = tokenGroups(spec([reg('111111111111', 'us-east-1')], { identity: { serviceAccountRef: { namespace: 'ci', name: 'puller' } } }));
    expect(resolveGroups(groups, roles).map((g) => g.key)).toEqual(groups.map((g) => g.key));
  });
});
