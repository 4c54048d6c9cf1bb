// spec.identity.serviceAccountRef: the operator mints a short-lived token for a team's
// ServiceAccount with TokenRequest, assumes the role from its annotation, and may chain a role after it.
import { FaultProxy } from './fault-proxy.ts';
import { applySync, createNamespace, deleteSyncsAndWait, dockerConfig, ecrControl, eventually, getSync, installCrds, kube, type OperatorProcess, readSecret, readyCondition, stackEnv, startOperator, uniqueName } from './support.ts';

const { kc, core, custom } = kube();
let proxy: FaultProxy;
let operator: OperatorProcess;
const syncs: string[] = [];
const TEAM_ROLE = 'arn:aws:iam::333333333333:role/team-puller';

function webIdentityCalls(since: number): Array<{ role: string; claims: { sub: string; aud: string[] | string; exp: number; iat: number } }> {
  return proxy.calls
    .filter((c) => c.at >= since && c.api === 'AssumeRoleWithWebIdentity')
    .map((c) => {
      const params = new URLSearchParams(c.body);
      const token = params.get('WebIdentityToken') ?? '';
      return { role: params.get('RoleArn') ?? '', claims: JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString() || '{}') };
    });
}

beforeAll(async () => {
  await installCrds(kc);
  proxy = new FaultProxy(stackEnv('AWS_ENDPOINT_URL'));
  operator = await startOperator([], { AWS_ENDPOINT_URL: await proxy.start() });
});

afterAll(async () => {
  await deleteSyncsAndWait(custom, syncs);
  expect(await operator.stop()).toBe(0);
  await proxy.stop();
});

it.each<[string, string | undefined, string]>([
  ['EKS: the default audience, the role from the annotation', undefined, 'sts.amazonaws.com'],
  ['ROSA: audience openshift', 'openshift', 'openshift'],
])('%s', async (_title, audience, expectedAudience) => {
  const team = uniqueName('team');
  await createNamespace(core, team);
  await core.createNamespacedServiceAccount({ namespace: team, body: { metadata: { name: 'puller', annotations: { 'eks.amazonaws.com/role-arn': TEAM_ROLE } } } });
  const since = Date.now();
  const name = uniqueName('sa-identity');
  syncs.push(name);
  await applySync(custom, name, {
    registries: [
      { accountId: '333333333333', region: 'us-east-1' },
      { accountId: '111111111111', region: 'eu-west-1', assumeRole: { roleArn: stackEnv('STACK_CENTRAL_ROLE_ARN') } },
    ],
    namespaces: { names: [team] },
    identity: { serviceAccountRef: { namespace: team, name: 'puller', ...(audience ? { audience } : {}) } },
  });
  const secret = await eventually('secret', () => readSecret(core, team, 'regcred'));
  const auths = dockerConfig(secret).auths;
  // The team's own role minted the first token; the central role chained from it the second.
  const control = ecrControl();
  expect(await control.lookupToken(auths['333333333333.dkr.ecr.us-east-1.amazonaws.com']!.password)).toMatchObject({
    principal: expect.stringMatching(/^arn:aws:sts::333333333333:assumed-role\/team-puller\//),
    region: 'us-east-1',
  });
  expect(await control.lookupToken(auths['111111111111.dkr.ecr.eu-west-1.amazonaws.com']!.password)).toMatchObject({
    principal: expect.stringMatching(/^arn:aws:sts::111111111111:assumed-role\/CentralECRPullRole\//),
    region: 'eu-west-1',
  });
  const calls = webIdentityCalls(since);
  expect(calls.length).toBeGreaterThanOrEqual(1);
  for (const call of calls) {
    expect(call.role).toBe(TEAM_ROLE);
    expect(call.claims.sub).toBe(`system:serviceaccount:${team}:puller`);
    expect([call.claims.aud].flat()).toEqual([expectedAudience]);
    expect(call.claims.exp - call.claims.iat).toBeLessThanOrEqual(3600);
  }
  expect(proxy.calls.filter((c) => c.at >= since && c.api === 'AssumeRole').map((c) => new URLSearchParams(c.body).get('RoleArn'))).toContain(stackEnv('STACK_CENTRAL_ROLE_ARN'));
  expect(readyCondition(await getSync(custom, name))?.status).toBe('True');
});

it('says so in status when the ServiceAccount has no role to assume', async () => {
  const team = uniqueName('no-role');
  await createNamespace(core, team);
  await core.createNamespacedServiceAccount({ namespace: team, body: { metadata: { name: 'puller' } } });
  const name = uniqueName('no-role');
  syncs.push(name);
  await applySync(custom, name, { registries: [{ accountId: '333333333333', region: 'us-east-1' }], namespaces: { names: [team] }, identity: { serviceAccountRef: { namespace: team, name: 'puller' } } });
  const sync = await eventually('failure reported', async () => {
    const s = await getSync(custom, name);
    return readyCondition(s)?.reason === 'TokenFetchFailed' ? s : undefined;
  });
  expect(readyCondition(sync)?.message).toMatch(/has no eks.amazonaws.com\/role-arn annotation/);
  expect(await readSecret(core, team, 'regcred')).toBeUndefined();
});

it('waits the long backoff when the ServiceAccount does not exist, as retrying alone cannot cure that', async () => {
  const team = uniqueName('no-account');
  await createNamespace(core, team);
  const name = uniqueName('no-account');
  syncs.push(name);
  await applySync(custom, name, { registries: [{ accountId: '333333333333', region: 'us-east-1' }], namespaces: { names: [team] }, identity: { serviceAccountRef: { namespace: team, name: 'missing' } } });
  const sync = await eventually('backoff recorded', async () => {
    const s = await getSync(custom, name);
    return s?.status?.backoff ? s : undefined;
  });
  expect(sync.status!.backoff).toMatchObject({ failures: 1, retryable: false, message: expect.stringContaining('NoSuchServiceAccount') });
  expect(Date.parse(sync.status!.backoff!.nextAttemptTime) - Date.now()).toBeGreaterThan(8 * 60_000);
});

it.each<[string, { audience?: string; roleArn?: string; annotations?: Record<string, string> }, RegExp | undefined]>([
  ['mints no token for an audience outside --token-audiences (the API server\'s own, say)', { audience: 'https://kubernetes.default.svc.cluster.local', annotations: { 'eks.amazonaws.com/role-arn': TEAM_ROLE } }, /AudienceRefused|is not one the operator mints tokens for/],
  ['mints no token for a ServiceAccount that neither carries a role nor opted in, even with the role in the spec', { roleArn: TEAM_ROLE }, /has no eks.amazonaws.com\/role-arn annotation \(nor ecrsync.io\/token-request/],
  ['mints a token for a ServiceAccount that opted in, with the role in the spec', { roleArn: TEAM_ROLE, annotations: { 'ecrsync.io/token-request': 'allowed' } }, undefined],
])('%s', async (_title, ref, refused) => {
  const team = uniqueName('ref');
  await createNamespace(core, team);
  await core.createNamespacedServiceAccount({ namespace: team, body: { metadata: { name: 'puller', ...(ref.annotations ? { annotations: ref.annotations } : {}) } } });
  const name = uniqueName('ref');
  syncs.push(name);
  const since = Date.now();
  await applySync(custom, name, {
    registries: [{ accountId: '333333333333', region: 'us-east-1' }],
    namespaces: { names: [team] },
    identity: { serviceAccountRef: { namespace: team, name: 'puller', ...(ref.audience ? { audience: ref.audience } : {}), ...(ref.roleArn ? { roleArn: ref.roleArn } : {}) } },
  });
  if (!refused) {
    await eventually('secret', () => readSecret(core, team, 'regcred'));
    expect(webIdentityCalls(since).map((c) => c.claims.sub)).toContain(`system:serviceaccount:${team}:puller`);
    return;
  }
  const sync = await eventually('refused', async () => {
    const s = await getSync(custom, name);
    return s?.status?.backoff ? s : undefined;
  });
  expect(sync.status!.backoff).toMatchObject({ retryable: false, message: expect.stringMatching(refused) });
  expect(webIdentityCalls(since)).toEqual([]);
});
