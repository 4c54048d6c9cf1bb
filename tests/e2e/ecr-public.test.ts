// ECR Public through the operator, on the stack: a registry entry with public: true gets a token
// from ecr-public:GetAuthorizationToken (us-east-1, whatever the region of the rest), written for
// public.ecr.aws, which the emulated public.ecr.aws takes and a tampered copy of which it refuses.
import { ECR_PUBLIC_API } from '../../operator/aws/ecr-token-source.ts';
import { CENTRAL_PULL_ROLE, ECR_PUBLIC, ecrPublicRegistry } from '../stack/ecr/registries.ts';
import { itOnNode } from './on-node.ts';
import { pullWith } from './pods.ts';
import {
  afterReconcile,
  applySync,
  createNamespace,
  deleteSyncsAndWait,
  dockerConfig,
  ecrControl,
  eventually,
  getSync,
  installCrds,
  kube,
  metricSum,
  type OperatorProcess,
  patchSyncSpec,
  readSecret,
  readyCondition,
  skopeoInspect,
  stackEnv,
  startOperator,
  touchNamespace,
  uniqueName,
} from './support.ts';

const { kc, core, custom } = kube();
const control = ecrControl();
const WORKLOAD = 'arn:aws:sts::222222222222:assumed-role/ecr-credential-sync/ecr-credential-sync';
const PRIVATE_HOST = '222222222222.dkr.ecr.us-east-1.amazonaws.com';
let operator: OperatorProcess;
const syncs: string[] = [];

beforeAll(async () => {
  await installCrds(kc);
  operator = await startOperator();
  await operator.probePort();
});

afterAll(async () => {
  await deleteSyncsAndWait(custom, syncs);
  expect(await operator.stop('SIGTERM')).toBe(0);
});

async function newSync(prefix: string, spec: Parameters<typeof applySync>[2]): Promise<string> {
  const name = uniqueName(prefix);
  syncs.push(name);
  await applySync(custom, name, spec);
  return name;
}

const readyNow = async (name: string) => {
  const sync = await getSync(custom, name);
  return readyCondition(sync)?.status === 'True' && sync?.status?.observedGeneration === sync?.metadata.generation ? sync : undefined;
};
const waitReady = (name: string) => eventually(`sync ${name} ready`, () => readyNow(name));
/** The ECR Public calls the emulator answered since `since`. */
const publicCalls = async (since: number) => (await control.calls(since)).filter((c) => c.api === 'ecr-public:GetAuthorizationToken');
/** An auth file for the emulated public.ecr.aws (127.0.0.1:<port>) holding `auth`, as a secret's public.ecr.aws entry gives it. */
const publicAuthfile = (auth: string) => JSON.stringify({ auths: { [ecrPublicRegistry().host]: { auth } } });

describe('a sync with ECR Public beside a private registry', () => {
  const ns = uniqueName('public');
  let name: string;
  let since: number;

  beforeAll(async () => {
    await createNamespace(core, ns);
    since = Date.now();
    name = await newSync('public', {
      registries: [{ accountId: '222222222222', region: 'us-east-1', hostnames: [stackEnv('STACK_REGISTRY')] }, { public: true }],
      namespaces: { names: [ns] },
    });
  });

  it('becomes Ready, its status naming the public token apart from the private one of the same region', async () => {
    const sync = await waitReady(name);
    expect(sync.status?.namespaces).toEqual({ targeted: 1, synced: 1, failed: 0 });
    expect(sync.status?.tokens?.map((t) => ({ region: t.region, public: t.public, identity: t.identity }))).toEqual([
      { region: 'us-east-1', public: true, identity: `operator web identity (${stackEnv('AWS_ROLE_ARN')})` },
      { region: 'us-east-1', public: undefined, identity: `operator web identity (${stackEnv('AWS_ROLE_ARN')})` },
    ]);
  });

  it('writes public.ecr.aws with an ECR Public token of us-east-1, and the private hosts with a private one', async () => {
    const secret = await eventually('secret', () => readSecret(core, ns, 'regcred'));
    const auths = dockerConfig(secret).auths;
    expect(Object.keys(auths).sort()).toEqual([PRIVATE_HOST, stackEnv('STACK_REGISTRY'), 'public.ecr.aws'].sort());
    const entry = auths['public.ecr.aws']!;
    expect(Buffer.from(entry.auth, 'base64').toString()).toBe(`AWS:${entry.password}`);
    expect(await control.lookupToken(entry.password)).toMatchObject({ kind: 'ecr-public', region: 'us-east-1', principal: WORKLOAD, state: 'valid' });
    expect(await control.lookupToken(auths[PRIVATE_HOST]!.password)).toMatchObject({ kind: 'ecr', region: 'us-east-1', principal: WORKLOAD });
    expect(secret.metadata?.annotations?.['ecrsync.io/registries']).toBe([PRIVATE_HOST, stackEnv('STACK_REGISTRY'), 'public.ecr.aws'].sort().join(','));
  });

  it('made one ecr-public call, signed for ecr-public in us-east-1, and counts it under its own API in the metrics', async () => {
    await waitReady(name);
    const calls = (await publicCalls(since)).filter((c) => c.principal === WORKLOAD);
    expect(calls.map((c) => [c.signingName, c.region, c.result])).toEqual([['ecr-public', 'us-east-1', 'success']]);
    expect(await metricSum(operator, 'ecrsync_aws_api_calls_total', { api: ECR_PUBLIC_API, result: 'success' })).toBeGreaterThanOrEqual(1);
    const expiry = await metricSum(operator, 'ecrsync_token_expiry_timestamp_seconds', { sync: name, region: 'public.ecr.aws' });
    expect(Math.abs(expiry * 1000 - calls[0]!.expiresAt!)).toBeLessThan(1000);
  });

  it('holds a public credential skopeo pulls the test image with from public.ecr.aws, as the operator role', async () => {
    const secret = await eventually('secret', () => readSecret(core, ns, 'regcred'));
    const pulledAt = Date.now();
    const pulled = await skopeoInspect(ecrPublicRegistry().image, publicAuthfile(dockerConfig(secret).auths['public.ecr.aws']!.auth));
    expect(pulled.stderr).toBe('');
    expect(pulled.code).toBe(0);
    expect(JSON.parse(pulled.stdout).Digest).toMatch(/^sha256:/);
    // Not as an anonymous caller, who may pull too: the token stood for the operator's role.
    const reads = (await control.registryRequests(pulledAt)).filter((r) => r.registry === 'public.ecr.aws' && r.action === 'ecr-public:BatchGetImage');
    expect(reads.length).toBeGreaterThan(0);
    expect(new Set(reads.map((r) => `${r.principal} ${r.status}`))).toEqual(new Set([`${WORKLOAD} 200`]));
  });

  itOnNode('ecr-public.test.ts: the pull on the node')('lets a pod on the node pull public.ecr.aws/stack/hello:1.0 with regcred, as the operator role', async () => {
    await eventually('secret', () => readSecret(core, ns, 'regcred'));
    const pulledAt = Date.now();
    const outcome = await pullWith(core, ns, 'public-pull', [`${ECR_PUBLIC.host}/stack/hello:1.0`], { imagePullSecrets: ['regcred'] });
    expect(outcome.failure).toBeUndefined();
    expect(outcome.pulled).toBe(true);
    // containerd sent the secret's public.ecr.aws credential (an anonymous pull would work too, as a different caller).
    const reads = (await control.registryRequests(pulledAt)).filter((r) => r.registry === 'public.ecr.aws' && r.action === 'ecr-public:BatchGetImage');
    expect(reads.length).toBeGreaterThan(0);
    expect(new Set(reads.map((r) => `${r.principal} ${r.status}`))).toEqual(new Set([`${WORKLOAD} 200`]));
  });

  it.each<[string, (auths: ReturnType<typeof dockerConfig>['auths']) => string]>([
    ['a tampered copy of the public credential', (auths) => Buffer.from(`AWS:${auths['public.ecr.aws']!.password.replace(/^./, (c) => (c === 'e' ? 'f' : 'e'))}`).toString('base64')],
    ['the private registry credential', (auths) => auths[PRIVATE_HOST]!.auth],
  ])('is refused by public.ecr.aws with %s', async (_name, auth) => {
    const secret = await eventually('secret', () => readSecret(core, ns, 'regcred'));
    const refused = await skopeoInspect(ecrPublicRegistry().image, publicAuthfile(auth(dockerConfig(secret).auths)));
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/unauthorized|denied|Not Authorized/i);
  });
});

describe('several syncs with ECR Public', () => {
  it('make one ecr-public call per identity between them (a sync takes a token another just fetched under its identity), and no more on later reconciles', async () => {
    const ns = uniqueName('public-many');
    await createNamespace(core, ns);
    const since = Date.now();
    // Session names of their own: the file's other syncs fetched with the operator's identity and
    // CentralECRPullRole moments ago, and a sync may be given such a token.
    const [shared, own] = [uniqueName('e2e-pub'), uniqueName('e2e-pub')];
    const as = (sessionName: string) => ({ assumeRole: { roleArn: CENTRAL_PULL_ROLE, sessionName } });
    const principal = (session: string) => `arn:aws:sts::111111111111:assumed-role/CentralECRPullRole/${session}`;
    const spec = (extra: object) => ({ registries: [{ public: true as const, ...extra }], namespaces: { names: [ns] }, secretName: uniqueName('pub') });
    const names = [await newSync('pub-a', spec(as(shared))), await newSync('pub-b', spec(as(shared))), await newSync('pub-own', spec(as(own)))];
    for (const name of names) await waitReady(name);
    const principals = async () => (await publicCalls(since)).filter((c) => c.result === 'success' && [principal(shared), principal(own)].includes(c.principal!)).map((c) => c.principal).sort();
    // pub-b asked moments after pub-a, with the same identity: it was given pub-a's token.
    expect(await principals()).toEqual([principal(shared), principal(own)].sort());
    expect(await metricSum(operator, 'ecrsync_token_shared_total')).toBeGreaterThanOrEqual(1);
    const secrets = await Promise.all(names.map(async (name) => dockerConfig((await readSecret(core, ns, (await getSync(custom, name))!.spec.secretName!))!).auths['public.ecr.aws']!.password));
    expect(secrets[1]).toBe(secrets[0]);
    expect(secrets[2]).not.toBe(secrets[0]);
    await afterReconcile(operator, names[2]!, () => touchNamespace(core, ns, 0), (n) => touchNamespace(core, ns, n));
    expect(await principals()).toEqual([principal(shared), principal(own)].sort());
  });
});

describe('an identity without sts:GetServiceBearerToken', () => {
  it('gets no ECR Public token: the sync says which action it lacks, and is Ready once it may', async () => {
    const ns = uniqueName('public-denied');
    await createNamespace(core, ns);
    const role = 'arn:aws:iam::111111111111:role/CentralECRPullRole';
    // A session of its own: a token another sync of this file fetched as CentralECRPullRole moments ago would be shared.
    const session = uniqueName('e2e-denied');
    await control.deny(role, 'sts:GetServiceBearerToken');
    let name: string;
    try {
      name = await newSync('public-denied', {
        registries: [
          { accountId: '111111111111', region: 'eu-west-1', assumeRole: { roleArn: CENTRAL_PULL_ROLE, sessionName: session } },
          { public: true, assumeRole: { roleArn: CENTRAL_PULL_ROLE, sessionName: session } },
        ],
        namespaces: { names: [ns] },
      });
      const failed = await eventually('TokenFetchFailed', async () => {
        const sync = await getSync(custom, name);
        return readyCondition(sync)?.reason === 'TokenFetchFailed' ? sync : undefined;
      });
      expect(readyCondition(failed)).toMatchObject({ status: 'False' });
      expect(readyCondition(failed)!.message).toContain(`${ECR_PUBLIC_API} failed: AccessDeniedException`);
      expect(readyCondition(failed)!.message).toContain(`User: arn:aws:sts::111111111111:assumed-role/CentralECRPullRole/${session} is not authorized to perform: sts:GetServiceBearerToken`);
      expect(failed.status?.backoff).toMatchObject({ retryable: false });
      // The private registry's token came, but no secret is written without every token.
      expect(await readSecret(core, ns, 'regcred')).toBeUndefined();
    } finally {
      await control.undeny(role, 'sts:GetServiceBearerToken');
    }
    // A spec change ends the long backoff a refusal earns.
    await patchSyncSpec(custom, name, { refreshBefore: '2h' });
    await waitReady(name);
    expect(Object.keys(dockerConfig((await readSecret(core, ns, 'regcred'))!).auths).sort()).toEqual(['111111111111.dkr.ecr.eu-west-1.amazonaws.com', 'public.ecr.aws']);
  });
});
