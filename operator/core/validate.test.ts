import { DEFAULT_REFRESH_BEFORE, DEFAULT_SCHEDULE } from '../api/constants.ts';
import { API_VERSION, type EcrCredentialSync, type EcrCredentialSyncSpec, KIND } from '../api/types.ts';
import { secretContent } from './desired.ts';
import { tokenGroups } from './identity.ts';
import { ASSUMED_PASSWORD_CHARS, MAX_ANNOTATION_BYTES, MAX_SECRET_BYTES, secretSize, validateSpec } from './validate.ts';

const ROLE = 'arn:aws:iam::111111111111:role/ecr-pull';
const VALID: EcrCredentialSyncSpec = {
  registries: [{ accountId: '111111111111', region: 'us-east-1' }],
  namespaces: { names: ['default'] },
};

/** VALID with some fields replaced by anything at all, as an object without the CRD's schema may be. */
const withSpec = (change: Record<string, unknown>) => ({ ...VALID, ...change }) as unknown as EcrCredentialSyncSpec;
const withRegistry = (change: Record<string, unknown>) => withSpec({ registries: [{ ...VALID.registries[0], ...change }] });

describe('validateSpec', () => {
  it.each<[string, EcrCredentialSyncSpec]>([
    ['the smallest spec', VALID],
    ['the defaults, written out', withSpec({ schedule: DEFAULT_SCHEDULE, refreshBefore: DEFAULT_REFRESH_BEFORE, secretName: 'regcred' })],
    [
      'every field in use',
      withSpec({
        registries: [
          { accountId: '111111111111', region: 'us-east-1', hostnames: ['111111111111.dkr.ecr-fips.us-east-1.amazonaws.com', '111111111111.dkr-ecr.us-east-1.on.aws:443'], assumeRole: { roleArn: ROLE, externalId: 'x', sessionName: 's' } },
          { accountId: '111111111111', region: 'eu-west-1' },
          { accountId: '222222222222', region: 'cn-north-1' },
          { accountId: '333333333333', region: 'us-gov-west-1' },
        ],
        namespaces: {
          names: ['default', 'team-a'],
          selector: { matchLabels: { env: 'prod' }, matchExpressions: [{ key: 'team', operator: 'In', values: ['a'] }, { key: 'x', operator: 'Exists' }] },
          exclude: ['kube-*'],
        },
        secretName: 'ecr.pull-secret',
        secretTemplate: { labels: { a: 'b' }, annotations: { c: 'd' } },
        identity: { serviceAccountRef: { namespace: 'ci', name: 'puller' }, assumeRole: { roleArn: ROLE } },
        serviceAccounts: ['default', '*'],
        schedule: '@daily',
        refreshBefore: '11h',
        suspend: false,
      }),
    ],
    ['a web identity', withSpec({ identity: { webIdentity: { roleArn: ROLE, tokenFile: '/var/run/token' } } })],
    ['a GovCloud role ARN', withSpec({ identity: { assumeRole: { roleArn: 'arn:aws-us-gov:iam::111111111111:role/path/ecr' } } })],
    ['a China role ARN', withSpec({ identity: { assumeRole: { roleArn: 'arn:aws-cn:iam::111111111111:role/ecr' } } })],
    ['a selector alone', withSpec({ namespaces: { selector: {} } })],
    ['a six-field schedule', withSpec({ schedule: '0 0 */6 * * *' })],
    ['refreshBefore at its lower bound', withSpec({ refreshBefore: '1m' })],
  ])('accepts %s', (_name, spec) => {
    expect(validateSpec(spec)).toEqual([]);
  });

  it.each<[string, EcrCredentialSyncSpec | undefined, string]>([
    ['a missing spec', undefined, 'spec is missing'],
    ['a spec that is not an object', 'spec' as unknown as EcrCredentialSyncSpec, 'spec is missing'],
    ['a spec that is an array', [] as unknown as EcrCredentialSyncSpec, 'spec is missing'],
    ['no registries', withSpec({ registries: [] }), 'registries must list at least one registry'],
    ['registries that are not a list', withSpec({ registries: { accountId: '111111111111' } }), 'registries must list at least one registry'],
    ['a registry that is not an object', withSpec({ registries: ['111111111111'] }), 'registries[0] must be an object'],
    ['an account ID of 11 digits', withRegistry({ accountId: '11111111111' }), 'registries[0].accountId must be exactly 12 digits'],
    ['an account ID given as a number', withRegistry({ accountId: 111111111111 }), 'registries[0].accountId must be exactly 12 digits'],
    ['a region that is not a region code', withRegistry({ region: 'US East' }), 'registries[0].region must be an AWS region code such as us-east-1'],
    ['a missing region', withRegistry({ region: undefined }), 'registries[0].region must be an AWS region code such as us-east-1'],
    [
      'the same account and region twice',
      withSpec({ registries: [VALID.registries[0], { ...VALID.registries[0], hostnames: ['x.amazonaws.com'] }] }),
      'registries[1] repeats accountId 111111111111 in us-east-1',
    ],
    ['a hostname with a scheme', withRegistry({ hostnames: ['https://mirror.example.com'] }), 'registries[0].hostnames must be host or host:port entries'],
    ['hostnames that are not a list', withRegistry({ hostnames: 'mirror.example.com' }), 'registries[0].hostnames must be host or host:port entries'],
    ['a registry assumeRole that is not a role ARN', withRegistry({ assumeRole: { roleArn: 'arn:aws:iam::111111111111:user/bob' } }), 'registries[0].assumeRole.roleArn must be an IAM role ARN'],
    ['a registry assumeRole that is a string', withRegistry({ assumeRole: ROLE }), 'registries[0].assumeRole.roleArn must be an IAM role ARN'],
    ['no namespaces', withSpec({ namespaces: undefined }), 'namespaces needs names, a selector, or both'],
    ['namespaces with only an exclude', withSpec({ namespaces: { exclude: ['x'] } }), 'namespaces needs names, a selector, or both'],
    ['a namespace name in capitals', withSpec({ namespaces: { names: ['Default'] } }), 'namespaces.names must be namespace names'],
    ['namespace names that are not a list', withSpec({ namespaces: { names: 'default' } }), 'namespaces.names must be namespace names'],
    ['a selector that is a string', withSpec({ namespaces: { selector: 'env=prod' } }), 'namespaces.selector must be a label selector'],
    ['matchLabels that are a list', withSpec({ namespaces: { selector: { matchLabels: ['env'] } } }), 'namespaces.selector must be a label selector'],
    ['a matchLabels value that is a number', withSpec({ namespaces: { selector: { matchLabels: { env: 1 } } } }), 'namespaces.selector must be a label selector'],
    ['matchExpressions that are not a list', withSpec({ namespaces: { selector: { matchExpressions: 5 } } }), 'namespaces.selector must be a label selector'],
    ['a matchExpression that is null', withSpec({ namespaces: { selector: { matchExpressions: [null] } } }), 'namespaces.selector must be a label selector'],
    ['a matchExpression without a key', withSpec({ namespaces: { selector: { matchExpressions: [{ operator: 'Exists' }] } } }), 'namespaces.selector must be a label selector'],
    ['a matchExpression with an unknown operator', withSpec({ namespaces: { selector: { matchExpressions: [{ key: 'a', operator: 'Equals', values: ['b'] }] } } }), 'namespaces.selector must be a label selector'],
    ['matchExpression values that are a number', withSpec({ namespaces: { selector: { matchExpressions: [{ key: 'a', operator: 'In', values: 5 }] } } }), 'namespaces.selector must be a label selector'],
    ['an exclude that is not a list', withSpec({ namespaces: { names: ['a'], exclude: 'kube-*' } }), 'namespaces.exclude must be a list of names or globs'],
    ['an exclude with a number in it', withSpec({ namespaces: { names: ['a'], exclude: [1] } }), 'namespaces.exclude must be a list of names or globs'],
    ['a secretName with an underscore', withSpec({ secretName: 'reg_cred' }), 'secretName must be a DNS subdomain name such as regcred'],
    ['a secretName longer than 253 characters', withSpec({ secretName: 'a'.repeat(254) }), 'secretName must be a DNS subdomain name such as regcred'],
    ['an empty secretName', withSpec({ secretName: '' }), 'secretName must be a DNS subdomain name such as regcred'],
    ['a schedule that is a number', withSpec({ schedule: 6 }), 'schedule must be a cron expression'],
    ['a schedule with a minute out of range', withSpec({ schedule: '61 * * * *' }), 'schedule "61 * * * *" is not a valid cron expression: 61 is a invalid expression for minute'],
    ['a refreshBefore that is not a duration', withSpec({ refreshBefore: 'an hour' }), 'refreshBefore must be a positive duration such as 1h or 30m'],
    ['a refreshBefore that is a number', withSpec({ refreshBefore: 3600 }), 'refreshBefore must be a positive duration such as 1h or 30m'],
    ['a refreshBefore that is an object whose toString is not a function', withSpec({ refreshBefore: { toString: [] } }), 'refreshBefore must be a positive duration such as 1h or 30m'],
    ['a schedule that is an object whose toString is not a function', withSpec({ schedule: { toString: [] } }), 'schedule must be a cron expression'],
    ['a region that is an object whose toString is not a function', withRegistry({ region: { toString: null } }), 'registries[0].region must be an AWS region code such as us-east-1'],
    ['an account ID that is an object whose toString is not a function', withRegistry({ accountId: { toString: null } }), 'registries[0].accountId must be exactly 12 digits'],
    ['a refreshBefore under a minute', withSpec({ refreshBefore: '30s' }), 'refreshBefore must be between 1m and 11h'],
    ['a refreshBefore as long as a token lives', withSpec({ refreshBefore: '12h' }), 'refreshBefore must be between 1m and 11h'],
    ['an identity that is a string', withSpec({ identity: 'operator' }), 'identity must be an object'],
    [
      'both a web identity and a ServiceAccount',
      withSpec({ identity: { webIdentity: { roleArn: ROLE }, serviceAccountRef: { namespace: 'a', name: 'b' } } }),
      'identity: set webIdentity or serviceAccountRef, not both',
    ],
    ['a web identity without a role ARN', withSpec({ identity: { webIdentity: {} } }), 'identity.webIdentity.roleArn must be an IAM role ARN'],
    ['a ServiceAccount without a name', withSpec({ identity: { serviceAccountRef: { namespace: 'a' } } }), 'identity.serviceAccountRef needs namespace and name'],
    ['an identity assumeRole that is not an ARN', withSpec({ identity: { assumeRole: { roleArn: 'ecr-pull' } } }), 'identity.assumeRole.roleArn must be an IAM role ARN'],
    ['serviceAccounts with a bad name', withSpec({ serviceAccounts: ['Default'] }), 'serviceAccounts must list ServiceAccount names or "*"'],
    ['serviceAccounts that are a string', withSpec({ serviceAccounts: '*' }), 'serviceAccounts must list ServiceAccount names or "*"'],
  ])('rejects %s', (_name, spec, problem) => {
    expect(validateSpec(spec)).toEqual([problem]);
  });

  it('lists every problem at once', () => {
    const problems = validateSpec(withSpec({ registries: [{ accountId: 'x', region: 'y' }], namespaces: {}, schedule: 'never', refreshBefore: '1d' }));
    expect(problems).toEqual([
      'registries[0].accountId must be exactly 12 digits',
      'registries[0].region must be an AWS region code such as us-east-1',
      'namespaces needs names, a selector, or both',
      expect.stringContaining('schedule "never" is not a valid cron expression'),
      'refreshBefore must be a positive duration such as 1h or 30m',
    ]);
  });
});

describe('an ECR Public entry', () => {
  const PUBLIC = { public: true };
  const withPublic = (change: Record<string, unknown>) => withSpec({ registries: [VALID.registries[0], { ...PUBLIC, ...change }] });

  it.each<[string, EcrCredentialSyncSpec]>([
    ['alone', withSpec({ registries: [PUBLIC] })],
    ['beside a private registry of us-east-1', withPublic({})],
    ['with its region written out', withPublic({ region: 'us-east-1' })],
    ['with a role of its own', withPublic({ assumeRole: { roleArn: ROLE } })],
    ['as public: false, a private registry like any other', withRegistry({ public: false })],
  ])('is accepted %s', (_name, spec) => {
    expect(validateSpec(spec)).toEqual([]);
  });

  it.each<[string, EcrCredentialSyncSpec, string[]]>([
    ['with an account', withPublic({ accountId: '111111111111' }), ['registries[1].accountId must not be set with public: true (ECR Public serves every account at public.ecr.aws)']],
    ['in another region', withPublic({ region: 'eu-west-1' }), ["registries[1].region must be us-east-1 or left out with public: true (ECR Public's API is in us-east-1 only)"]],
    ['with hostnames', withPublic({ hostnames: ['mirror.example.com'] }), ['registries[1].hostnames must not be set with public: true (its one host is public.ecr.aws)']],
    ['twice', withSpec({ registries: [PUBLIC, { ...PUBLIC, assumeRole: { roleArn: ROLE } }] }), ['registries may hold one public registry at most: ECR Public has one host, public.ecr.aws']],
    ['with public given as a string', withPublic({ public: 'true' }), ['registries[1].public must be true or false', 'registries[1].accountId must be exactly 12 digits', 'registries[1].region must be an AWS region code such as us-east-1']],
  ])('is refused %s', (_name, spec, problems) => {
    expect(validateSpec(spec, { allowedHostnames: ['*'] })).toEqual(problems);
  });

  it.each(['public.ecr.aws', 'public.ecr.aws:443'])('cannot be smuggled in as a private registry hostname (%s), even where the allowlist lets every host through', (host) => {
    expect(validateSpec(withRegistry({ hostnames: [host] }), { allowedHostnames: ['*'] })).toEqual([
      'registries[0].hostnames must not name public.ecr.aws: list a registry with public: true for ECR Public',
    ]);
  });

  it('counts as one host, public.ecr.aws, in the size of the secret', () => {
    expect(secretSize(withPublic({})).hosts).toBe(2);
  });
});

describe('extra hostnames outside ECR', () => {
  const ECR = '*.amazonaws.com, *.amazonaws.com.cn, *.dkr-ecr.*.on.aws, *.dkr-ecr-fips.*.on.aws';
  it.each<[string, string[], readonly string[] | undefined]>([
    ['accepts a FIPS host without an allowlist', ['111111111111.dkr.ecr-fips.us-east-1.amazonaws.com'], undefined],
    ['accepts a China host and a dual-stack host without an allowlist', ['111111111111.dkr.ecr.cn-north-1.amazonaws.com.cn', '111111111111.dkr-ecr.us-east-1.on.aws'], undefined],
    ['accepts a FIPS dual-stack host without an allowlist', ['111111111111.dkr-ecr-fips.us-east-1.on.aws'], undefined],
    ['accepts an ECR host with a port', ['111111111111.dkr.ecr.us-east-1.amazonaws.com:443'], undefined],
    ['accepts a host the allowlist names', ['mirror.corp'], ['mirror.corp']],
    ['accepts a host on any port when its pattern names no port', ['127.0.0.1:40123', '127.0.0.1'], ['127.0.0.1']],
    ['accepts a host matching a glob of the allowlist', ['eu.mirror.corp:5000'], ['*.mirror.corp']],
  ])('%s', (_name, hostnames, allowedHostnames) => {
    expect(validateSpec(withRegistry({ hostnames }), allowedHostnames ? { allowedHostnames } : {})).toEqual([]);
  });

  it.each<[string, string[], readonly string[] | undefined, string]>([
    [
      'refuses docker.io without an allowlist, naming the host, ECR domains and the flag',
      ['docker.io'],
      undefined,
      `registries[0].hostnames: "docker.io" is not an ECR host (${ECR}) and not allowed by the operator's --allowed-hostnames (not set); every pull from a listed host would receive the ECR token`,
    ],
    [
      'refuses every host outside the allowlist in one problem, naming the allowlist',
      ['111111111111.dkr.ecr.us-east-1.amazonaws.com', 'docker.io', 'quay.io'],
      ['127.0.0.1', '*.mirror.corp'],
      `registries[0].hostnames: "docker.io", "quay.io" are not ECR hosts (${ECR}) and not allowed by the operator's --allowed-hostnames (127.0.0.1,*.mirror.corp); every pull from a listed host would receive the ECR token`,
    ],
    ['refuses a host that only ends in the letters of ECR\'s domain', ['evilamazonaws.com'], undefined, 'registries[0].hostnames: "evilamazonaws.com" is not an ECR host'],
    ['refuses a host that only begins like ECR\'s domain', ['x.amazonaws.com.evil.io'], undefined, 'registries[0].hostnames: "x.amazonaws.com.evil.io" is not an ECR host'],
    ['refuses another port than the one a pattern names', ['mirror.corp:5001'], ['mirror.corp:5000'], 'registries[0].hostnames: "mirror.corp:5001" is not an ECR host'],
    ['refuses a host without a port when the pattern names one', ['127.0.0.1'], ['127.0.0.1:*'], 'registries[0].hostnames: "127.0.0.1" is not an ECR host'],
    ['refuses the parent domain of a glob', ['mirror.corp'], ['*.mirror.corp'], 'registries[0].hostnames: "mirror.corp" is not an ECR host'],
  ])('%s', (_name, hostnames, allowedHostnames, problem) => {
    const problems = validateSpec(withRegistry({ hostnames }), allowedHostnames ? { allowedHostnames } : {});
    expect(problems).toHaveLength(1);
    expect(problems[0]!.startsWith(problem)).toBe(true);
  });

  it('reports each registry with a refused host on its own', () => {
    const spec = withSpec({ registries: [{ ...VALID.registries[0], hostnames: ['docker.io'] }, { accountId: '111111111111', region: 'eu-west-1', hostnames: ['ghcr.io'] }] });
    expect(validateSpec(spec).map((p) => p.slice(0, p.indexOf(' is not')))).toEqual(['registries[0].hostnames: "docker.io"', 'registries[1].hostnames: "ghcr.io"']);
  });

  it('checks no host until every entry is a well-formed host', () => {
    expect(validateSpec(withRegistry({ hostnames: ['docker.io', 'https://x'] }))).toEqual(['registries[0].hostnames must be host or host:port entries']);
  });
});

const account = (i: number) => String(100000000000 + i);
const REGIONS = ['us-east-1', 'us-east-2', 'us-west-1', 'us-west-2', 'eu-west-1'];
/** `registries` registries of distinct accounts and regions, each with `hostnames` extra hosts of `hostChars` characters. */
function manyHosts(registries: number, hostnames: number, hostChars = 40): EcrCredentialSyncSpec['registries'] {
  return Array.from({ length: registries }, (_, r) => ({
    accountId: account(r),
    region: REGIONS[r % REGIONS.length]!,
    hostnames: Array.from({ length: hostnames }, (_, h) => `${r}-${h}-`.padEnd(hostChars - '.amazonaws.com'.length, 'x') + '.amazonaws.com'),
  }));
}
/** The most secretTemplate the CRD admits: 32 labels and 32 annotations at their longest values, with long keys. */
const LARGEST_TEMPLATE = {
  labels: Object.fromEntries(Array.from({ length: 32 }, (_, i) => [`${'p'.repeat(253)}/${String(i).padEnd(63, 'k')}`, 'v'.repeat(63)])),
  annotations: Object.fromEntries(Array.from({ length: 32 }, (_, i) => [`${'p'.repeat(253)}/${String(i).padEnd(63, 'k')}`, 'v'.repeat(4096)])),
};
/** What the CRD's rule on spec.registries admits at most: 64 hosts, standard ones included. */
const CRD_MAX_HOSTS = 64;

describe('the secret size check', () => {
  it.each<[string, EcrCredentialSyncSpec]>([
    ['accepts 50 registries without extra hostnames', withSpec({ registries: manyHosts(50, 0) })],
    [
      'accepts the largest spec the CRD admits: 64 hosts of 261 characters and the largest secretTemplate',
      withSpec({ registries: manyHosts(4, CRD_MAX_HOSTS / 4 - 1, 261), secretTemplate: LARGEST_TEMPLATE }),
    ],
  ])('%s', (_name, spec) => {
    expect(validateSpec(spec)).toEqual([]);
  });

  it.each<[string, EcrCredentialSyncSpec, RegExp]>([
    [
      'refuses 50 registries × 20 hostnames, naming the size and the limit',
      withSpec({ registries: manyHosts(50, 20) }),
      /^the secret for 1050 registry hosts would take up to \d+ bytes, over the limit of 1000000 \(the API server stores at most 1 MiB per Secret\): list fewer registries or hostnames, or split them across syncs$/,
    ],
    ['refuses 110 hosts of 40 characters', withSpec({ registries: manyHosts(10, 10) }), /^the secret for 110 registry hosts would take up to \d+ bytes, over the limit of 1000000/],
    [
      'refuses annotations past the API server limit, as an object without the schema may carry',
      withSpec({ secretTemplate: { annotations: Object.fromEntries(Array.from({ length: 70 }, (_, i) => [`a${i}`, 'v'.repeat(4096)])) } }),
      /^the secret's annotations would take up to \d+ bytes, over the API server's limit of 262144: .*shorten secretTemplate.annotations$/,
    ],
  ])('%s', (_name, spec, problem) => {
    const problems = validateSpec(spec);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(problem);
  });

  it('counts a host that two registries share once', () => {
    const shared = manyHosts(2, 1);
    shared[1]!.hostnames = shared[0]!.hostnames;
    expect(secretSize(withSpec({ registries: shared })).hosts).toBe(3);
  });

  it('is not checked for a spec that already has problems', () => {
    expect(validateSpec(withSpec({ registries: manyHosts(50, 20), schedule: 'never' }))).toEqual([expect.stringContaining('schedule "never"')]);
  });

  it.each<[string, number, number]>([
    ['one registry', 1, 0],
    ['50 registries × 20 hostnames', 50, 20],
    ['the most hosts the CRD admits', 4, CRD_MAX_HOSTS / 4 - 1],
  ])('is never below the secret desired.ts builds with passwords of the assumed length, for %s', (_name, registries, hostnames) => {
    const spec = withSpec({ registries: manyHosts(registries, hostnames, 261), secretTemplate: LARGEST_TEMPLATE });
    const sync: EcrCredentialSync = { apiVersion: API_VERSION, kind: KIND, metadata: { name: 's'.repeat(253), uid: 'u' }, spec };
    const tokens = new Map(tokenGroups(spec).map((g) => [g.key, { credential: { username: 'AWS', password: 'p'.repeat(ASSUMED_PASSWORD_CHARS) }, expiresAt: new Date('2030-01-01T00:00:00Z') }]));
    const content = secretContent(sync, tokens)!;
    const bytes = (m: Record<string, string>) => Object.entries(m).reduce((n, [k, v]) => n + k.length + v.length, 0);
    const real = { bytes: bytes(content.data) + bytes(content.labels) + bytes(content.annotations), annotationBytes: bytes(content.annotations) };
    const estimate = secretSize(spec);
    expect(estimate.bytes).toBeGreaterThanOrEqual(real.bytes);
    expect(estimate.annotationBytes).toBeGreaterThanOrEqual(real.annotationBytes);
    // and not so far above it that it refuses secrets that would fit
    expect(estimate.bytes).toBeLessThan(real.bytes * 1.02 + 1000);
  });

  it('keeps the largest spec the CRD admits well under the bound', () => {
    const size = secretSize(withSpec({ registries: manyHosts(4, CRD_MAX_HOSTS / 4 - 1, 261), secretTemplate: LARGEST_TEMPLATE }));
    expect(size.bytes).toBeLessThan(0.85 * MAX_SECRET_BYTES);
    expect(size.annotationBytes).toBeLessThan(MAX_ANNOTATION_BYTES);
  });
});
