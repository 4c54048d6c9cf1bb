// The stack's ECR behaves like ECR: GetAuthorizationToken through the real SDK, tokens bound to
// the caller and the region, and registries that take only those tokens, as their policies say.
import { readFileSync } from 'node:fs';
import { ECRClient, GetAuthorizationTokenCommand } from '@aws-sdk/client-ecr';
import { AssumeRoleCommand, AssumeRoleWithWebIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import type { AwsCredentialIdentity } from '@aws-sdk/types';
import { classifyAwsError } from '../../operator/aws/credentials.ts';
import { CENTRAL_PULL_ROLE, ecrImage, ecrPublicRegistry, ecrRegistry } from '../stack/ecr/registries.ts';
import { ecrControl, eventually, skopeoInspect, stackEnv, uniqueName } from './support.ts';

const control = ecrControl();
const WORKLOAD_SESSION = (session: string) => `arn:aws:sts::222222222222:assumed-role/ecr-credential-sync/${session}`;
const CENTRAL_SESSION = (session: string) => `arn:aws:sts::111111111111:assumed-role/CentralECRPullRole/${session}`;

async function webIdentity(session: string): Promise<AwsCredentialIdentity> {
  const out = await new STSClient({}).send(
    new AssumeRoleWithWebIdentityCommand({
      RoleArn: stackEnv('AWS_ROLE_ARN'),
      RoleSessionName: session,
      WebIdentityToken: readFileSync(stackEnv('AWS_WEB_IDENTITY_TOKEN_FILE'), 'utf8'),
    }),
  );
  const c = out.Credentials!;
  return { accessKeyId: c.AccessKeyId!, secretAccessKey: c.SecretAccessKey!, sessionToken: c.SessionToken! };
}

async function centralRole(session: string): Promise<AwsCredentialIdentity> {
  const out = await new STSClient({ credentials: await webIdentity(session) }).send(new AssumeRoleCommand({ RoleArn: CENTRAL_PULL_ROLE, RoleSessionName: session }));
  const c = out.Credentials!;
  return { accessKeyId: c.AccessKeyId!, secretAccessKey: c.SecretAccessKey!, sessionToken: c.SessionToken! };
}

function ecr(credentials: AwsCredentialIdentity, region = 'us-east-1'): ECRClient {
  return new ECRClient({ region, credentials, maxAttempts: 1 });
}

/** The password inside a GetAuthorizationToken answer. */
async function password(client: ECRClient): Promise<string> {
  const out = await client.send(new GetAuthorizationTokenCommand({}));
  return Buffer.from(out.authorizationData![0]!.authorizationToken!, 'base64').toString().replace(/^AWS:/, '');
}

/** What the operator would make of the error a call fails with. */
async function failure(client: ECRClient) {
  try {
    await client.send(new GetAuthorizationTokenCommand({}));
  } catch (error) {
    return classifyAwsError('GetAuthorizationToken', error);
  }
  throw new Error('the call succeeded');
}

const basic = (token: string) => `Basic ${Buffer.from(`AWS:${token}`).toString('base64')}`;
const authfile = (host: string, token: string) => JSON.stringify({ auths: { [host]: { auth: Buffer.from(`AWS:${token}`).toString('base64') } } });

describe('GetAuthorizationToken', () => {
  it('mints a new token per call, valid for the TTL, for the caller account registry', async () => {
    const client = ecr(await webIdentity('fresh'));
    const ttl = await control.ttl();
    const started = Date.now();
    const first = await client.send(new GetAuthorizationTokenCommand({}));
    const ms = Date.now() - started;
    const second = await client.send(new GetAuthorizationTokenCommand({}));
    const [a, b] = [first, second].map((out) => out.authorizationData![0]!);
    expect(a!.authorizationToken).not.toBe(b!.authorizationToken);
    expect(a!.expiresAt).toBeInstanceOf(Date);
    expect(Math.abs(a!.expiresAt!.getTime() - (started + ttl * 1000))).toBeLessThan(5000);
    expect(a!.proxyEndpoint).toBe('https://222222222222.dkr.ecr.us-east-1.amazonaws.com');
    // Long and opaque, as ECR's are.
    expect(a!.authorizationToken!.length).toBeGreaterThan(2000);
    process.stderr.write(`[ecr] GetAuthorizationToken (first call of a key, principal resolved through STS): ${ms} ms\n`);
  });

  it('names the principal behind the keys: a web identity session, and the central role chained from it', async () => {
    const since = Date.now();
    const session = uniqueName('who');
    await password(ecr(await webIdentity(session)));
    const central = ecr(await centralRole(session), 'eu-west-1');
    const out = await central.send(new GetAuthorizationTokenCommand({}));
    expect(out.authorizationData![0]!.proxyEndpoint).toBe('https://111111111111.dkr.ecr.eu-west-1.amazonaws.com');
    const calls = (await control.calls(since)).filter((c) => c.principal?.endsWith(`/${session}`));
    expect(calls.map((c) => [c.principal, c.region, c.result])).toEqual([
      [WORKLOAD_SESSION(session), 'us-east-1', 'success'],
      [CENTRAL_SESSION(session), 'eu-west-1', 'success'],
    ]);
  });

  it('answers AccessDeniedException to a denied principal, which the operator does not retry', async () => {
    const session = uniqueName('denied');
    const client = ecr(await webIdentity(session));
    await control.deny(WORKLOAD_SESSION(session));
    try {
      const error = await failure(client);
      expect(error).toMatchObject({ code: 'AccessDeniedException', retryable: false });
      expect(error.message).toContain(`User: ${WORKLOAD_SESSION(session)} is not authorized to perform: ecr:GetAuthorizationToken`);
    } finally {
      await control.undeny(WORKLOAD_SESSION(session));
    }
    expect(await password(client)).toBeTruthy();
  });

  it('answers ThrottlingException while throttled, which the operator retries, until the throttle ends', async () => {
    const client = ecr(await webIdentity('throttled'));
    await control.throttle(true);
    try {
      expect(await failure(client)).toMatchObject({ code: 'ThrottlingException', retryable: true });
    } finally {
      await control.throttle(false);
    }
    await control.throttle(true, 5);
    expect(await failure(client)).toMatchObject({ code: 'ThrottlingException' });
    await eventually('throttle over', () => password(client), 20_000);
  });

  it('answers ECR Public in us-east-1 only', async () => {
    const creds = await webIdentity('public');
    const call = (region: string, authorization = true) =>
      fetch(stackEnv('AWS_ENDPOINT_URL'), {
        method: 'POST',
        headers: {
          'Content-Type': 'application/x-amz-json-1.1',
          'X-Amz-Target': 'SpencerFrontendService.GetAuthorizationToken',
          // The emulator reads who signed, not the signature.
          ...(authorization ? { Authorization: `AWS4-HMAC-SHA256 Credential=${creds.accessKeyId}/20250101/${region}/ecr-public/aws4_request, SignedHeaders=host, Signature=00` } : {}),
        },
        body: '{}',
      });
    const ok = await call('us-east-1');
    expect(ok.status).toBe(200);
    const body = (await ok.json()) as { authorizationData: { authorizationToken: string; expiresAt: number } };
    expect(typeof body.authorizationData.expiresAt).toBe('number');
    const token = Buffer.from(body.authorizationData.authorizationToken, 'base64').toString().slice(4);
    expect(await control.lookupToken(token)).toMatchObject({ kind: 'ecr-public', region: 'us-east-1' });
    // No private registry takes an ECR Public token.
    expect((await fetch(`http://${ecrRegistry('222222222222', 'us-east-1').host}/v2/`, { headers: { Authorization: basic(token) } })).status).toBe(401);
    const elsewhere = await call('eu-west-1');
    expect(elsewhere.status).toBe(400);
    expect(elsewhere.headers.get('x-amzn-errortype')).toBe('InvalidSignatureException');
    const anonymous = await call('us-east-1', false);
    expect(anonymous.status).toBe(400);
    expect(await anonymous.json()).toMatchObject({ __type: 'MissingAuthenticationTokenException' });
  });
});

describe('the registries', () => {
  const workload = () => ecrRegistry('222222222222', 'us-east-1');

  it('challenge a request without credentials as ECR does', async () => {
    const res = await fetch(`http://${workload().host}/v2/`);
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toBe('Basic realm="https://222222222222.dkr.ecr.us-east-1.amazonaws.com/",service="ecr.amazonaws.com"');
    expect(await res.text()).toContain('Not Authorized');
  });

  it('take a token only in the region it was minted for', async () => {
    const creds = await webIdentity('regions');
    const east = await password(ecr(creds, 'us-east-1'));
    const west = await password(ecr(creds, 'eu-west-1'));
    const inspect = (account: string, region: string, token: string) => skopeoInspect(ecrImage(account, region), authfile(ecrRegistry(account, region).host, token));
    // The workload account may pull from both accounts' registries (the central policy names it).
    expect((await inspect('222222222222', 'us-east-1', east)).code).toBe(0);
    expect((await inspect('111111111111', 'us-east-1', east)).code).toBe(0);
    expect((await inspect('111111111111', 'eu-west-1', west)).code).toBe(0);
    const wrongRegion = await inspect('111111111111', 'eu-west-1', east);
    expect(wrongRegion.code).not.toBe(0);
    expect(wrongRegion.stderr).toMatch(/unauthorized|authentication required/i);
  });

  it('refuse an expired token and a revoked one with 401', async () => {
    const client = ecr(await webIdentity('short-lived'));
    const status = async (token: string) =>
      (await fetch(`http://${workload().host}/v2/stack/hello/manifests/1.0`, { method: 'HEAD', headers: { Authorization: basic(token), Accept: 'application/vnd.oci.image.manifest.v1+json' } })).status;
    const expiring = await password(client);
    const revoked = await password(client);
    const kept = await password(client);
    expect(await status(expiring)).toBe(200);
    expect(await control.expireTokens({ token: expiring })).toBe(1);
    expect(await control.revokeTokens({ token: revoked })).toBe(1);
    expect([await status(expiring), await status(revoked), await status(kept), await status('never-minted')]).toEqual([401, 401, 200, 401]);
    const inspected = await skopeoInspect(ecrImage('222222222222', 'us-east-1'), authfile(workload().host, expiring));
    expect(inspected.code).not.toBe(0);
  });

  it('include public.ecr.aws, which serves the test image to anyone but refuses a private token with 401', async () => {
    const { host, image } = ecrPublicRegistry();
    const anonymous = await skopeoInspect(image, '{"auths":{}}');
    expect(anonymous.stderr).toBe('');
    expect(anonymous.code).toBe(0);
    const privateToken = await password(ecr(await webIdentity('public-with-private')));
    const refused = await skopeoInspect(image, authfile(host, privateToken));
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/unauthorized|Not Authorized/i);
  });

  it('refuse with 403 a principal their policy does not name, for pulls and pushes', async () => {
    const since = Date.now();
    const session = uniqueName('outsider');
    // The central role may pull from its own account, not from the workload account's registry.
    const central = await password(ecr(await centralRole(session)));
    const pull = await fetch(`http://${workload().host}/v2/stack/hello/manifests/1.0`, { headers: { Authorization: basic(central) } });
    expect(pull.status).toBe(403);
    expect(await pull.json()).toEqual({
      errors: [
        {
          code: 'DENIED',
          message: `User: ${CENTRAL_SESSION(session)} is not authorized to perform: ecr:BatchGetImage on resource: arn:aws:ecr:us-east-1:222222222222:repository/stack/hello because no resource-based policy allows the ecr:BatchGetImage action`,
        },
      ],
    });
    // Pulling is not pushing.
    const workloadToken = await password(ecr(await webIdentity(session)));
    const push = await fetch(`http://${workload().host}/v2/stack/hello/blobs/uploads/`, { method: 'POST', headers: { Authorization: basic(workloadToken) } });
    expect(push.status).toBe(403);
    const decisions = (await control.registryRequests(since, workload())).filter((r) => r.principal?.endsWith(`/${session}`));
    expect(decisions.map((d) => [d.action, d.status])).toEqual([
      ['ecr:BatchGetImage', 403],
      ['ecr:InitiateLayerUpload', 403],
    ]);
  });
});
