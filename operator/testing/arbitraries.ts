// Random specs, valid and not, and the world the fuzz tests run them in, for fast-check.
// To replay a failure, set FC_SEED (and FC_PATH) to what fast-check printed; FC_SCALE=10 runs ten times as many.
// No jest in here, so the file also compiles outside the test run.
import fc from 'fast-check';
import { LABEL_MANAGED_BY, LABEL_SYNC, MANAGER_NAME } from '../api/constants.ts';
import type { NamespaceInfo } from '../core/namespaces.ts';
import type { ActualSecret } from '../core/plan.ts';

export const params = (numRuns: number): fc.Parameters<unknown> => ({
  numRuns: process.env.FC_SCALE ? Math.round(numRuns * Number(process.env.FC_SCALE)) : numRuns,
  ...(process.env.FC_SEED ? { seed: Number(process.env.FC_SEED) } : {}),
  ...(process.env.FC_PATH ? { path: process.env.FC_PATH } : {}),
});

// ---------------------------------------------------------------------------------------------
// Specs

/**
 * Specs of the right shape (with some invalid values), or, when `wrongTypes`, now and then anything
 * at all in place of a field.
 */
export function specs(wrongTypes: boolean): fc.Arbitrary<unknown> {
  const mostly = <T>(arb: fc.Arbitrary<T>): fc.Arbitrary<unknown> =>
    wrongTypes ? fc.oneof({ weight: 15, arbitrary: arb }, { weight: 1, arbitrary: fc.anything({ maxDepth: 2, maxKeys: 3 }) }) : arb;
  /** Usually one of the good values, sometimes one of the bad. */
  const pick = <T>(good: T[], bad: T[]) => fc.oneof({ weight: 30, arbitrary: fc.constantFrom(...good) }, { weight: 1, arbitrary: fc.constantFrom(...bad) });

  const roleArn = pick(['arn:aws:iam::999999999999:role/a', 'arn:aws:iam::888888888888:role/b', 'arn:aws-cn:iam::777777777777:role/c'], ['not-an-arn', 'arn:aws:iam::1:user/x']);
  const assumeRole = fc.record({ roleArn: mostly(roleArn), externalId: fc.constantFrom('x', 'y'), sessionName: fc.constant('s') }, { requiredKeys: ['roleArn'] });
  const registry = fc.record(
    {
      accountId: mostly(pick(['111111111111', '222222222222', '333333333333'], ['12345', ''])),
      region: mostly(pick(['us-east-1', 'eu-west-1', 'cn-north-1', 'us-gov-west-1'], ['mars', 'US-EAST-1'])),
      hostnames: mostly(fc.array(pick(['111111111111.dkr.ecr-fips.us-east-1.amazonaws.com', '111111111111.dkr-ecr.us-east-1.on.aws:443'], ['Bad Host', 'https://x', 'docker.io']), { maxLength: 2 })),
      assumeRole: mostly(assumeRole),
    },
    { requiredKeys: ['accountId', 'region'] },
  );
  // ECR Public: now and then with what it must not have (an account, hostnames, another region).
  const publicRegistry = fc
    .tuple(
      fc.record({ public: mostly(fc.constant(true)), region: mostly(pick(['us-east-1'], ['eu-west-1'])), assumeRole: mostly(assumeRole) }, { requiredKeys: ['public'] }),
      pick<object>([{}], [{ accountId: '111111111111' }, { hostnames: ['111111111111.dkr.ecr.us-east-1.amazonaws.com'] }]),
    )
    .map(([r, extra]) => ({ ...r, ...extra }));
  const anyRegistry = fc.oneof({ weight: 8, arbitrary: registry }, { weight: 1, arbitrary: publicRegistry });
  const registries = fc.oneof(
    { weight: 8, arbitrary: fc.uniqueArray(mostly(anyRegistry), { minLength: 1, maxLength: 5, selector: (r) => registryKey(r) }) },
    { weight: 1, arbitrary: fc.array(mostly(anyRegistry), { maxLength: 5 }) },
  );
  const labelKey = fc.constantFrom('team', 'env', 'tier');
  const labelValue = fc.constantFrom('a', 'b', 'prod', 'dev');
  const requirement = fc.record(
    {
      key: mostly(labelKey),
      operator: mostly(pick(['In', 'NotIn', 'Exists', 'DoesNotExist'], ['Like'])),
      values: mostly(fc.array(labelValue, { maxLength: 3 })),
    },
    { requiredKeys: ['key', 'operator'] },
  );
  const selector = fc.record(
    { matchLabels: mostly(fc.dictionary(labelKey, labelValue, { maxKeys: 2 })), matchExpressions: mostly(fc.array(mostly(requirement), { maxLength: 3 })) },
    { requiredKeys: [] },
  );
  const namespaces = fc.record(
    {
      names: mostly(fc.array(pick(['default', 'team-a', 'team-b', 'team-c', 'kube-system', 'absent'], ['Bad_Name']), { maxLength: 4 })),
      selector: mostly(selector),
      exclude: mostly(fc.array(fc.constantFrom('kube-*', 'team-?', 'default', '*'), { maxLength: 2 })),
    },
    { requiredKeys: [] },
  );
  const webIdentity = fc.record({ roleArn: mostly(roleArn), tokenFile: fc.constant('/var/run/token') }, { requiredKeys: ['roleArn'] });
  const serviceAccountRef = fc.record({ namespace: mostly(fc.constant('ci')), name: mostly(fc.constantFrom('a', 'b')), audience: fc.constant('aud'), roleArn }, { requiredKeys: ['namespace', 'name'] });
  const identity = fc.oneof(
    { weight: 8, arbitrary: fc.record({ webIdentity: mostly(webIdentity), assumeRole: mostly(assumeRole) }, { requiredKeys: [] }) },
    { weight: 8, arbitrary: fc.record({ serviceAccountRef: mostly(serviceAccountRef), assumeRole: mostly(assumeRole) }, { requiredKeys: [] }) },
    { weight: 1, arbitrary: fc.record({ webIdentity, serviceAccountRef }) },
  );
  const template = fc.record(
    {
      labels: mostly(fc.dictionary(fc.constantFrom('team', LABEL_MANAGED_BY, LABEL_SYNC), fc.string({ maxLength: 5 }), { maxKeys: 2 })),
      annotations: mostly(fc.dictionary(fc.constantFrom('note', 'ecrsync.io/data-hash', 'ecrsync.io/token-expires-at'), fc.string({ maxLength: 5 }), { maxKeys: 2 })),
    },
    { requiredKeys: [] },
  );
  return fc.record(
    {
      registries: mostly(registries),
      namespaces: mostly(namespaces),
      secretName: mostly(pick(['regcred', 'ecr.pull', 'x'], ['Bad_Name', ''])),
      secretTemplate: mostly(template),
      identity: mostly(identity),
      serviceAccounts: mostly(fc.array(pick(['default', '*'], ['Bad_SA']), { maxLength: 2 })),
      schedule: mostly(pick(['0 */6 * * *', '@daily', '*/30 * * * * *', '0 0 L * 1', '0 0 13 * 5', '0 0 1 1 *', '15 3 * jan,jul mon-fri'], ['61 * * * *', '0 0 L-1 * *', 'nope', ''])),
      refreshBefore: mostly(pick(['1h', '30m', '90s', '11h', '1.5h'], ['12h', '10s', 'soon'])),
      suspend: mostly(fc.boolean()),
    },
    { requiredKeys: ['registries', 'namespaces'] },
  );
}

export const spec = specs(false);
/** Well-typed specs, specs with wrong types here and there, and now and then not an object at all. */
export const anySpec = fc.oneof({ weight: 8, arbitrary: spec }, { weight: 8, arbitrary: specs(true) }, { weight: 1, arbitrary: fc.anything({ maxDepth: 2 }) });

export const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

// ---------------------------------------------------------------------------------------------
// The world

export const NAMESPACES: NamespaceInfo[] = [
  { name: 'default', labels: {} },
  { name: 'kube-system', labels: {} },
  { name: 'team-a', labels: { team: 'a', env: 'prod' } },
  { name: 'team-b', labels: { team: 'b', env: 'dev' } },
  { name: 'team-c', labels: { team: 'c', tier: 'a' } },
  { name: 'old', labels: { team: 'a' }, terminating: true },
];

/** The uid of the sync the fuzz tests run: secrets owned by it are its own, whatever else they say. */
export const FUZZ_UID = 'uid-fuzz';
const ownedBy = (uid: string) => [{ apiVersion: 'ecrsync.io/v1alpha1', kind: 'EcrCredentialSync', name: 'fuzz', uid }];

const actualSecret: fc.Arbitrary<ActualSecret> = fc.record({
  namespace: fc.constantFrom(...NAMESPACES.map((n) => n.name)),
  name: fc.constantFrom('regcred', 'ecr.pull', 'x', 'other'),
  type: fc.constantFrom('kubernetes.io/dockerconfigjson', 'Opaque'),
  data: fc.dictionary(fc.constantFrom('.dockerconfigjson', 'x'), fc.base64String({ maxLength: 12 }), { maxKeys: 2 }),
  labels: fc.oneof(
    fc.constant({}),
    fc.constant({ [LABEL_MANAGED_BY]: MANAGER_NAME, [LABEL_SYNC]: 'fuzz' }),
    fc.constant({ [LABEL_MANAGED_BY]: MANAGER_NAME, [LABEL_SYNC]: 'other' }),
    fc.constant({ [LABEL_SYNC]: 'fuzz' }),
  ),
  annotations: fc.constant({}),
  // None (labelled by hand), the sync's own, or an earlier sync's of the same name.
  ownerReferences: fc.constantFrom(undefined, ownedBy(FUZZ_UID), ownedBy('uid-earlier-fuzz')),
});

/** Secrets at distinct names. */
export const actualSecrets = fc.uniqueArray(actualSecret, { maxLength: 6, selector: (s) => `${s.namespace}/${s.name}` });

export const ours = (s: ActualSecret) =>
  s.labels?.[LABEL_MANAGED_BY] === MANAGER_NAME && s.labels?.[LABEL_SYNC] === 'fuzz' && (s.ownerReferences ?? []).some((r) => r.uid === FUZZ_UID);

/** What makes two registries the same to the CRD: accountId and region. Any other value is itself (a generated object may have no prototype, so no template string). */
function registryKey(r: unknown): unknown {
  if (!r || typeof r !== 'object') return r;
  const { accountId, region } = r as { accountId?: unknown; region?: unknown };
  return typeof accountId === 'string' && typeof region === 'string' ? `${accountId}/${region}` : r;
}
