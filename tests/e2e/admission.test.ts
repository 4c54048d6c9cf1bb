// Bad input is refused by the API server at admission, with a message a person understands.
import { GROUP, PLURAL, VERSION } from '../../operator/api/types.ts';
import { createNamespace, dryRunCreateLocalSync, dryRunCreateSync, installCrds, kube, uniqueName } from './support.ts';

const { kc, core, custom } = kube();
beforeAll(() => installCrds(kc));

const registry = { accountId: '111111111111', region: 'us-east-1' };
const ns = { names: ['team-a'] };
const base = { registries: [registry], namespaces: ns };
const role = 'arn:aws:iam::111111111111:role/CentralECRPullRole';
const create = (spec: unknown, name?: string) => dryRunCreateSync(custom, spec, name);


const rejected: Array<[string, unknown, RegExp]> = [
  ['a spec that is missing', undefined, /spec: Required value/],
  ['no registries at all', { namespaces: ns }, /registries: Required value/],
  ['an empty registry list', { registries: [], namespaces: ns }, /registries.*at least 1/],
  ['an account id of 11 digits', { ...base, registries: [{ ...registry, accountId: '11111111111' }] }, /accountId must be exactly 12 digits/],
  ['an account id with letters', { ...base, registries: [{ ...registry, accountId: '11111111111a' }] }, /accountId must be exactly 12 digits/],
  ['an account id given as a number', { ...base, registries: [{ ...registry, accountId: 111111111111 }] }, /accountId.*string/],
  ['an account id that is too long', { ...base, registries: [{ ...registry, accountId: '1111111111111' }] }, /accountId/],
  ['a region that is not a region', { ...base, registries: [{ ...registry, region: 'mars' }] }, /region must be an AWS region code/],
  ['a region in capitals', { ...base, registries: [{ ...registry, region: 'US-EAST-1' }] }, /region must be an AWS region code/],
  ['a registry without a region', { ...base, registries: [{ accountId: '111111111111' }] }, /region: Required value/],
  ['the same registry twice', { ...base, registries: [registry, registry] }, /Duplicate value|must not list the same accountId and region twice/],
  ['a hostname with a scheme', { ...base, registries: [{ ...registry, hostnames: ['https://mirror.example.com'] }] }, /hostname must be a lower-case host or host:port/],
  ['a hostname with a path', { ...base, registries: [{ ...registry, hostnames: ['mirror.example.com/v2'] }] }, /hostname must be a lower-case host or host:port/],
  ['hostnames given as a string', { ...base, registries: [{ ...registry, hostnames: 'mirror.example.com' }] }, /hostnames.*array/],
  ['a registry role that is not a role ARN', { ...base, registries: [{ ...registry, assumeRole: { roleArn: 'CentralECRPullRole' } }] }, /roleArn must be an IAM role ARN/],
  ['an assumeRole without roleArn', { ...base, identity: { assumeRole: { sessionName: 'x1' } } }, /roleArn: Required value/],
  ['an externalId with spaces', { ...base, identity: { assumeRole: { roleArn: role, externalId: 'has spaces' } } }, /externalId may hold/],
  ['a sessionName that is too long', { ...base, identity: { assumeRole: { roleArn: role, sessionName: 'x'.repeat(65) } } }, /sessionName/],
  ['namespaces with neither names nor selector', { registries: [registry], namespaces: { exclude: ['kube-*'] } }, /namespaces needs names, a selector, or both/],
  ['a namespace name with capitals', { ...base, namespaces: { names: ['Team-A'] } }, /each namespace name must be a DNS label/],
  ['a namespace name too long', { ...base, namespaces: { names: ['a'.repeat(64)] } }, /names\[0\].*(Too long|at most 63)/],
  ['a selector operator that does not exist', { ...base, namespaces: { selector: { matchExpressions: [{ key: 'team', operator: 'Has' }] } } }, /Unsupported value: "Has"/],
  ['an In requirement without values', { ...base, namespaces: { selector: { matchExpressions: [{ key: 'team', operator: 'In' }] } } }, /In and NotIn need values/],
  ['an Exists requirement with values', { ...base, namespaces: { selector: { matchExpressions: [{ key: 'team', operator: 'Exists', values: ['a'] }] } } }, /Exists and DoesNotExist take none/],
  ['an exclude pattern with a slash', { ...base, namespaces: { names: ['a'], exclude: ['kube/*'] } }, /exclude entry must be a namespace name or a glob/],
  ['an exclude pattern with five stars', { ...base, namespaces: { names: ['a'], exclude: ['kube-*', '*a*b*c*d*'] } }, /exclude\[1\].*each exclude entry may hold at most 4 \* wildcards/],
  ['an exclude pattern of twelve stars and an x', { ...base, namespaces: { selector: {}, exclude: ['*'.repeat(12) + 'x'] } }, /each exclude entry may hold at most 4 \* wildcards/],
  ['a secret name with capitals', { ...base, secretName: 'RegCred' }, /secretName must be a DNS subdomain name/],
  ['a secret name that is too long', { ...base, secretName: 'a'.repeat(254) }, /secretName/],
  ['template labels that claim managed-by', { ...base, secretTemplate: { labels: { 'app.kubernetes.io/managed-by': 'me' } } }, /must not set app.kubernetes.io\/managed-by/],
  ['template annotations in the operator prefix', { ...base, secretTemplate: { annotations: { 'ecrsync.io/data-hash': 'x' } } }, /must not set ecrsync.io\/ keys/],
  ['a cron expression in words', { ...base, schedule: 'every six hours' }, /schedule must be a cron expression/],
  ['a cron minute of 61', { ...base, schedule: '61 * * * *' }, /schedule must be a cron expression/],
  ['a cron with four fields', { ...base, schedule: '0 */6 * *' }, /schedule must be a cron expression/],
  ['a cron hour of 24', { ...base, schedule: '0 24 * * *' }, /schedule must be a cron expression/],
  ['a negative refreshBefore', { ...base, refreshBefore: '-1h' }, /refreshBefore must be a positive duration/],
  ['a refreshBefore without a unit', { ...base, refreshBefore: '3600' }, /refreshBefore must be a positive duration/],
  ['a refreshBefore longer than a token lives', { ...base, refreshBefore: '12h' }, /refreshBefore must be between 1m and 11h/],
  ['a refreshBefore of zero', { ...base, refreshBefore: '0s' }, /refreshBefore must be between 1m and 11h/],
  ['webIdentity and serviceAccountRef together', { ...base, identity: { webIdentity: { roleArn: role }, serviceAccountRef: { namespace: 'a', name: 'b' } } }, /set webIdentity or serviceAccountRef, not both/],
  ['a relative token file', { ...base, identity: { webIdentity: { roleArn: role, tokenFile: 'token' } } }, /tokenFile must be an absolute path/],
  ['suspend given as a string', { ...base, suspend: 'yes' }, /suspend.*boolean/],
  // ECR Public: one registry for every account, its API in us-east-1, its one host public.ecr.aws.
  ['an ECR Public entry with an account', { ...base, registries: [{ public: true, accountId: '111111111111' }] }, /registries\[0\]\.accountId: Forbidden: accountId must not be set with public true/],
  ['an ECR Public entry in another region', { ...base, registries: [{ public: true, region: 'eu-west-1' }] }, /registries\[0\]\.region: Invalid value.*region must be us-east-1 or left out with public true/],
  ['an ECR Public entry with hostnames', { ...base, registries: [{ public: true, hostnames: ['mirror.internal'] }] }, /registries\[0\]\.hostnames: Forbidden: hostnames must not be set with public true/],
  ['two ECR Public entries', { ...base, registries: [{ public: true }, { public: true, assumeRole: { roleArn: role } }] }, /registries may hold one public registry at most/],
  ['public given as a string', { ...base, registries: [{ public: 'true' }] }, /public.*boolean/],
  ['a private registry without an account', { ...base, registries: [{ region: 'us-east-1' }] }, /registries\[0\]\.accountId: Required value: accountId is required for a private registry \(or set public to true for ECR Public\)/],
  ['public: false without an account', { ...base, registries: [{ public: false, region: 'us-east-1' }] }, /accountId is required for a private registry/],
  ['public.ecr.aws as a private registry hostname', { ...base, registries: [{ ...registry, hostnames: ['public.ecr.aws'] }] }, /a hostname must not be public.ecr.aws; list a registry with public true/],
];

describe('admission', () => {
  it.each(rejected)('rejects %s', async (_title, spec, message) => {
    const result = await create(spec);
    expect(result.code).toBe(422);
    expect(result.message).toMatch(message);
  });

  it.each<[string, unknown]>([
    ['the smallest valid spec', base],
    ['a FIPS host, a dual-stack host and a mirror with a port', { ...base, registries: [{ ...registry, hostnames: ['111111111111.dkr.ecr-fips.us-east-1.amazonaws.com', '111111111111.dkr-ecr.us-east-1.on.aws', 'mirror.internal:5000'] }] }],
    ['a selector with every operator, plus exclusions', { ...base, namespaces: { selector: { matchLabels: { a: 'b' }, matchExpressions: [{ key: 'x', operator: 'In', values: ['1'] }, { key: 'y', operator: 'DoesNotExist' }] }, exclude: ['kube-*', 'openshift-?'] } }],
    ['256 exclude entries of 63 characters with four stars each', { ...base, namespaces: { names: ['a'], exclude: Array.from({ length: 256 }, (_, i) => `*a*b*c*${String(i).padStart(3, '0')}`.padEnd(63, 'x')) } }],
    ['a six-field cron with names', { ...base, schedule: '0 30 */4 * jan-jun mon-fri' }],
    ['a cron macro', { ...base, schedule: '@daily' }],
    ['a GovCloud region and a China region', { ...base, registries: [{ accountId: '111111111111', region: 'us-gov-west-1' }, { accountId: '111111111111', region: 'cn-north-1' }] }],
    ['ECR Public beside a private registry of us-east-1', { ...base, registries: [registry, { public: true }] }],
    ['ECR Public alone, its region written out, with a role of its own', { ...base, registries: [{ public: true, region: 'us-east-1', assumeRole: { roleArn: role } }] }],
    ['a ROSA ServiceAccount identity with a chained role', { ...base, identity: { serviceAccountRef: { namespace: 'ecr', name: 'puller', audience: 'openshift' }, assumeRole: { roleArn: role, externalId: 'abc-123', sessionName: 'rosa' } } }],
  ])('accepts %s', async (_title, spec) => {
    expect(await create(spec)).toEqual({ message: 'accepted' });
  });

  it('rejects a sync name of 70 characters, which could not be the label value on its secrets', async () => {
    const result = await create(base, 'a'.repeat(70));
    expect(result.code).toBe(422);
    expect(result.message).toMatch(/the sync name must be at most 63 characters/);
  });

  it('accepts a sync name of 63 characters', async () => {
    expect(await create(base, `${uniqueName('adm')}-`.padEnd(63, 'a'))).toEqual({ message: 'accepted' });
  });

  it('holds a LocalEcrCredentialSync to the same rules for ECR Public', async () => {
    const namespace = uniqueName('adm-local');
    await createNamespace(core, namespace);
    try {
      expect(await dryRunCreateLocalSync(custom, namespace, { registries: [registry, { public: true }] })).toEqual({ message: 'accepted' });
      expect(await dryRunCreateLocalSync(custom, namespace, { registries: [{ public: true, accountId: '111111111111' }] })).toEqual({
        code: 422,
        message: expect.stringMatching(/registries\[0\]\.accountId: Forbidden: accountId must not be set with public true/),
      });
    } finally {
      await core.deleteNamespace({ name: namespace });
    }
  });

  it('rejects an unknown field, as kubectl asks it to (strict field validation)', async () => {
    const result = await create({ ...base, registry });
    expect(result.code).toBe(400);
    expect(result.message).toMatch(/unknown field "spec.registry"/);
  });

  it('fills in the defaults', async () => {
    const created = (await custom.createClusterCustomObject({
      group: GROUP,
      version: VERSION,
      plural: PLURAL,
      dryRun: 'All',
      body: { apiVersion: `${GROUP}/${VERSION}`, kind: 'EcrCredentialSync', metadata: { name: uniqueName('defaults') }, spec: base },
    })) as { spec: Record<string, unknown> };
    expect(created.spec).toMatchObject({ secretName: 'regcred', schedule: '0 */6 * * *', refreshBefore: '1h', suspend: false });
  });
});
