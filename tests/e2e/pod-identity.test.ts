// The operator's own identity without IRSA variables: the AWS SDK's default chain. EKS Pod Identity
// through the stack's stand-in for the agent (tests/stack/ecr/pod-identity-agent.ts), which checks
// the projected ServiceAccount token it is handed and answers with moto's credentials for the
// associated role; and static keys in the environment. Status says which one was used.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import type { V1Secret } from '@kubernetes/client-node';
import type { EcrCredentialSync, EcrCredentialSyncSpec } from '../../operator/api/types.ts';
import { POD_IDENTITY_ROLE_ARN } from '../stack/ecr/components.ts';
import { POD_IDENTITY_AUDIENCE, POD_IDENTITY_STATS_PATH, type PodIdentityStats } from '../stack/ecr/pod-identity-agent.ts';
import { CENTRAL_PULL_ROLE, ecrImage, ecrRegistry } from '../stack/ecr/registries.ts';
import { run } from '../stack/run.ts';
import {
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
  OPERATOR_NAMESPACE,
  OPERATOR_SERVICE_ACCOUNT,
  operatorKubeconfig,
  type OperatorProcess,
  readSecret,
  readyCondition,
  secretPassword,
  skopeoInspect,
  stackEnv,
  startOperator,
  uniqueName,
} from './support.ts';

const { kc, core, custom } = kube();
const dir = mkdtempSync(join(tmpdir(), 'pod-identity-'));
const namespace = uniqueName('podid');
const namespaces = [namespace];
const syncs: string[] = [];
let operator: OperatorProcess | undefined;

/** What a pod with neither IRSA nor anything else the SDK could find has: nothing reaches out. */
const NO_IDENTITY: NodeJS.ProcessEnv = {
  AWS_ROLE_ARN: undefined,
  AWS_WEB_IDENTITY_TOKEN_FILE: undefined,
  AWS_ROLE_SESSION_NAME: undefined,
  AWS_ACCESS_KEY_ID: undefined,
  AWS_SECRET_ACCESS_KEY: undefined,
  AWS_SESSION_TOKEN: undefined,
  AWS_PROFILE: undefined,
  AWS_CONTAINER_CREDENTIALS_FULL_URI: undefined,
  AWS_CONTAINER_CREDENTIALS_RELATIVE_URI: undefined,
  AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE: undefined,
  // No profile files of whoever runs the tests.
  AWS_CONFIG_FILE: join(dir, 'no-aws-config'),
  AWS_SHARED_CREDENTIALS_FILE: join(dir, 'no-aws-credentials'),
  AWS_EC2_METADATA_DISABLED: 'true',
  HTTP_PROXY: 'http://127.0.0.1:9',
  HTTPS_PROXY: 'http://127.0.0.1:9',
  NO_PROXY: '127.0.0.1,localhost',
};

const central = () => ecrRegistry('111111111111', 'eu-west-1');
/** The operator's principal as STS names it for the Pod Identity association's role: the assumed role, without the pod's session. */
const POD_PRINCIPAL = POD_IDENTITY_ROLE_ARN.replace(/^arn:aws:iam::(\d{12}):role\//, 'arn:aws:sts::$1:assumed-role/');
const WORKLOAD_HOST = '222222222222.dkr.ecr.us-east-1.amazonaws.com';
const CENTRAL_HOST = '111111111111.dkr.ecr.eu-west-1.amazonaws.com';

/** The workload account's registry directly, and the central one through CentralECRPullRole, chained from the base credentials. */
function spec(): EcrCredentialSyncSpec {
  return {
    registries: [
      { accountId: '222222222222', region: 'us-east-1', hostnames: [stackEnv('STACK_REGISTRY')] },
      { accountId: '111111111111', region: 'eu-west-1', hostnames: [central().host], assumeRole: { roleArn: CENTRAL_PULL_ROLE } },
    ],
    namespaces: { names: [namespace] },
  };
}

/** The projected token the Pod Identity webhook mounts for the operator's ServiceAccount (or one for another audience). */
async function serviceAccountToken(file: string, audience: string): Promise<string> {
  const review = await core.createNamespacedServiceAccountToken({
    namespace: OPERATOR_NAMESPACE,
    name: OPERATOR_SERVICE_ACCOUNT,
    body: { spec: { audiences: [audience], expirationSeconds: 3600 } },
  });
  writeFileSync(file, review.status!.token!, { mode: 0o600 });
  return file;
}

async function agentStats(): Promise<PodIdentityStats> {
  const res = await fetch(new URL(POD_IDENTITY_STATS_PATH, stackEnv('STACK_POD_IDENTITY_URL')));
  return (await res.json()) as PodIdentityStats;
}

async function restartOperator(env: NodeJS.ProcessEnv, args: string[] = []): Promise<OperatorProcess> {
  if (operator) expect(await operator.stop()).toBe(0);
  operator = await startOperator(args, { ...NO_IDENTITY, ...env });
  return operator;
}

function podIdentityEnv(tokenFile: string): NodeJS.ProcessEnv {
  return { AWS_CONTAINER_CREDENTIALS_FULL_URI: stackEnv('STACK_POD_IDENTITY_URL'), AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE: tokenFile };
}

async function readyWith(name: string, check: (sync: EcrCredentialSync) => boolean = () => true): Promise<EcrCredentialSync> {
  return eventually(`${name} Ready`, async () => {
    const sync = await getSync(custom, name);
    return readyCondition(sync)?.status === 'True' && sync?.status?.observedGeneration === sync?.metadata.generation && check(sync!) ? sync : undefined;
  }, 60_000);
}

async function pullsWith(secret: V1Secret, image: string): Promise<void> {
  const result = await skopeoInspect(image, Buffer.from(secret.data!['.dockerconfigjson']!, 'base64').toString('utf8'));
  expect({ image, code: result.code, stderr: result.stderr }).toEqual({ image, code: 0, stderr: '' });
}

/** The wide view's Credentials column, as kubectl prints it. */
async function credentialsColumn(name: string): Promise<string | undefined> {
  const result = await run('kubectl', ['get', 'ecrsync', name, '-o', 'wide']);
  expect(result.code).toBe(0);
  const [header, row] = result.stdout.trimEnd().split('\n').map((l) => l.trim().split(/\s{2,}/));
  return row![header!.indexOf('CREDENTIALS')];
}

beforeAll(async () => {
  await installCrds(kc);
  await operatorKubeconfig();
  await createNamespace(core, namespace);
});

afterAll(async () => {
  // An operator removes the finalizers; the last one started is still running.
  await deleteSyncsAndWait(custom, syncs);
  if (operator) expect(await operator.stop()).toBe(0);
  for (const ns of namespaces) await core.deleteNamespace({ name: ns }).catch(() => undefined);
});

describe('EKS Pod Identity', () => {
  const name = uniqueName('podid');
  const goodToken = join(dir, 'eks-pod-identity-token');
  const badToken = join(dir, 'sts-audience-token');

  it('gets its credentials from the agent with the pod\'s token, chains a role from them, and says so in status', async () => {
    await serviceAccountToken(goodToken, POD_IDENTITY_AUDIENCE);
    const before = await agentStats();
    const op = await restartOperator(podIdentityEnv(goodToken));
    syncs.push(name);
    await applySync(custom, name, spec());
    const sync = await readyWith(name);
    expect(sync.status!.tokens!.map((t) => [t.region, t.identity, t.credentialSource])).toEqual([
      ['eu-west-1', `operator default credentials (${POD_PRINCIPAL}) -> ${CENTRAL_PULL_ROLE}`, 'PodIdentity'],
      ['us-east-1', `operator default credentials (${POD_PRINCIPAL})`, 'PodIdentity'],
    ]);
    const after = await agentStats();
    expect(after.served).toBeGreaterThan(before.served);
    expect(after.lastServed).toBe(`system:serviceaccount:${OPERATOR_NAMESPACE}:${OPERATOR_SERVICE_ACCOUNT}`);
    const secret = (await readSecret(core, namespace, 'regcred'))!;
    const control = ecrControl();
    expect(await control.lookupToken(secretPassword(secret, WORKLOAD_HOST))).toMatchObject({
      principal: expect.stringMatching(/^arn:aws:sts::222222222222:assumed-role\/ecr-credential-sync-pod-identity\//),
    });
    expect(await control.lookupToken(secretPassword(secret, CENTRAL_HOST))).toMatchObject({
      principal: expect.stringMatching(/^arn:aws:sts::111111111111:assumed-role\/CentralECRPullRole\//),
    });
    await pullsWith(secret, stackEnv('STACK_IMAGE'));
    await pullsWith(secret, ecrImage('111111111111', 'eu-west-1'));
    expect(await credentialsColumn(name)).toBe('PodIdentity');
    expect(op.logs()).toContain('"operatorIdentity":"the AWS SDK default credential chain"');
  });

  it('restarted with the same Pod Identity, learns its tokens back: it asks STS who it is, and writes nothing and fetches no token', async () => {
    const sync = await readyWith(name);
    const secret = (await readSecret(core, namespace, 'regcred'))!;
    const since = Date.now();
    const op = await restartOperator(podIdentityEnv(goodToken));
    await eventually('a successful reconcile by the new operator', async () => (await metricSum(op, 'ecrsync_reconcile_total', { sync: name, result: 'success' })) > 0, 60_000);
    expect(await metricSum(op, 'ecrsync_aws_api_calls_total', { api: 'GetAuthorizationToken' })).toBe(0);
    // Nor did the emulator see one from the operator's principal (this file's only client of ECR).
    const calls = (await ecrControl().calls(since)).filter((c) => c.principal?.includes('assumed-role/ecr-credential-sync-pod-identity/') || c.principal?.includes('assumed-role/CentralECRPullRole/'));
    expect(calls).toEqual([]);
    expect((await readSecret(core, namespace, 'regcred'))!.metadata!.resourceVersion).toBe(secret.metadata!.resourceVersion);
    const after = (await getSync(custom, name))!;
    expect(after.metadata.resourceVersion).toBe(sync.metadata.resourceVersion);
    expect(after.status!.tokens!.map((t) => t.identity)).toEqual([`operator default credentials (${POD_PRINCIPAL}) -> ${CENTRAL_PULL_ROLE}`, `operator default credentials (${POD_PRINCIPAL})`]);
    expect(await metricSum(op, 'ecrsync_aws_api_calls_total', { api: 'GetCallerIdentity', result: 'success' })).toBeGreaterThanOrEqual(1);
    expect(op.logs()).toContain('took the tokens its secrets hold');
    expect(op.logs()).toContain(`"principal":"${POD_PRINCIPAL}"`);
  });

  it('with a token the agent refuses, says why in the Ready condition and keeps the good secret; the right token heals it', async () => {
    const kept = (await readSecret(core, namespace, 'regcred'))!;
    await serviceAccountToken(badToken, 'sts.amazonaws.com');
    const before = await agentStats();
    // Without credentials the operator cannot ask STS who it is, so it cannot vouch for its secrets' tokens: it fetches.
    const op = await restartOperator(podIdentityEnv(badToken), ['--min-fetch-backoff=2s']);
    const failed = await eventually('TokenFetchFailed', async () => {
      const sync = await getSync(custom, name);
      const ready = readyCondition(sync);
      return ready?.reason === 'TokenFetchFailed' && ready.message.includes(badToken) ? sync : undefined;
    }, 60_000);
    const message = readyCondition(failed)!.message;
    // The agent's own reason, not the SDK's generic "Could not load credentials from any providers".
    expect(message).toContain(
      `EKS Pod Identity from ${stackEnv('STACK_POD_IDENTITY_URL')} with the token in ${badToken} gave no credentials: Server responded with status: 401: InvalidTokenException: the token's audience ["sts.amazonaws.com"] is not ${POD_IDENTITY_AUDIENCE}`,
    );
    expect(op.logs()).toContain('the operator\'s default credentials gave none');
    const after = await agentStats();
    expect(after.served).toBe(before.served);
    expect(after.refused['401'] ?? 0).toBeGreaterThan(before.refused['401'] ?? 0);
    expect(after.lastRefusal).toBe(`InvalidTokenException: the token's audience ["sts.amazonaws.com"] is not ${POD_IDENTITY_AUDIENCE}`);
    // Only the agent's protocol: no metadata fallback asking the same URL without the token.
    expect(after.unauthenticated).toBe(before.unauthenticated);
    const secret = (await readSecret(core, namespace, 'regcred'))!;
    expect(secret.data).toEqual(kept.data);
    expect(secret.metadata!.resourceVersion).toBe(kept.metadata!.resourceVersion);
    await pullsWith(secret, stackEnv('STACK_IMAGE'));

    // The kubelet rotates the projected token into the same file; the next attempt reads it.
    await serviceAccountToken(badToken, POD_IDENTITY_AUDIENCE);
    const healed = await readyWith(name, (s) => s.status!.tokens!.every((t) => t.credentialSource === 'PodIdentity'));
    expect(healed.status!.backoff).toBeUndefined();
    const fresh = (await readSecret(core, namespace, 'regcred'))!;
    expect(secretPassword(fresh, WORKLOAD_HOST)).not.toBe(secretPassword(kept, WORKLOAD_HOST));
    await pullsWith(fresh, stackEnv('STACK_IMAGE'));
  });
});

describe('static keys in the environment', () => {
  it('are used when nothing else is set up, and the status says Environment', async () => {
    // Keys as a Secret-mounted env would hold them: here a session of a CI role, from moto.
    const sts = new STSClient({ region: 'us-east-1', endpoint: stackEnv('AWS_ENDPOINT_URL'), credentials: { accessKeyId: 'AKIASTACKTEST0000000', secretAccessKey: 'unused' }, maxAttempts: 2 });
    const assumed = await sts.send(new AssumeRoleCommand({ RoleArn: 'arn:aws:iam::222222222222:role/ci-static-keys', RoleSessionName: 'static' }));
    sts.destroy();
    const c = assumed.Credentials!;
    await restartOperator({ AWS_ACCESS_KEY_ID: c.AccessKeyId, AWS_SECRET_ACCESS_KEY: c.SecretAccessKey, AWS_SESSION_TOKEN: c.SessionToken });
    const name = uniqueName('static');
    const team = uniqueName('static');
    namespaces.push(team);
    await createNamespace(core, team);
    syncs.push(name);
    await applySync(custom, name, { ...spec(), namespaces: { names: [team] } });
    const sync = await readyWith(name);
    expect(sync.status!.tokens!.map((t) => t.credentialSource)).toEqual(['Environment', 'Environment']);
    // STS names the keys' principal: here the role the keys are a session of, without the session.
    expect(sync.status!.tokens!.map((t) => t.identity)).toEqual([
      `operator default credentials (arn:aws:sts::222222222222:assumed-role/ci-static-keys) -> ${CENTRAL_PULL_ROLE}`,
      'operator default credentials (arn:aws:sts::222222222222:assumed-role/ci-static-keys)',
    ]);
    const secret = (await eventually('secret', () => readSecret(core, team, 'regcred')))!;
    expect(await ecrControl().lookupToken(dockerConfig(secret).auths[WORKLOAD_HOST]!.password)).toMatchObject({
      principal: expect.stringMatching(/^arn:aws:sts::222222222222:assumed-role\/ci-static-keys\/static$/),
    });
    await pullsWith(secret, stackEnv('STACK_IMAGE'));
    expect(await credentialsColumn(name)).toBe('Environment');
  });
});
