// The operator's own identity: the AWS SDK's real default chain, steered by the environment (no
// profile files of whoever runs the tests). Where it needs a server (an EKS Pod Identity agent,
// instance metadata, STS) it gets a small one on 127.0.0.1; nothing leaves the machine. EKS Pod
// Identity with real ServiceAccount tokens is tests/e2e/pod-identity.test.ts.
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CredentialFactory, hasEnvironmentWebIdentity } from './credentials.ts';
import { TokenFetchError } from './token-source.ts';

const STEERING = [
  'AWS_ACCESS_KEY_ID',
  'AWS_SECRET_ACCESS_KEY',
  'AWS_SESSION_TOKEN',
  'AWS_PROFILE',
  'AWS_CONFIG_FILE',
  'AWS_SHARED_CREDENTIALS_FILE',
  'AWS_ROLE_ARN',
  'AWS_WEB_IDENTITY_TOKEN_FILE',
  'AWS_CONTAINER_CREDENTIALS_FULL_URI',
  'AWS_CONTAINER_CREDENTIALS_RELATIVE_URI',
  'AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE',
  'AWS_CONTAINER_AUTHORIZATION_TOKEN',
  'AWS_EC2_METADATA_DISABLED',
  'AWS_EC2_METADATA_SERVICE_ENDPOINT',
  'AWS_ENDPOINT_URL',
];
let saved: Record<string, string | undefined>;
let calls: Array<[string, string]>;
let warnings: unknown[][];
const closers: Array<() => void> = [];
const log = { debug: () => {}, info: () => {}, warn: (...content: unknown[]) => void warnings.push(content), error: () => {} };

function factory(env: NodeJS.ProcessEnv = process.env): CredentialFactory {
  return new CredentialFactory({ env, stsRegion: 'us-east-1', record: (api, result) => calls.push([api, result]), log });
}

interface Request {
  method: string;
  url: string;
  authorization: string | undefined;
}

/** A server on 127.0.0.1 that records what it was asked; its URL. */
async function serve(answer: (req: IncomingMessage, res: ServerResponse) => void, seen: Request[] = []): Promise<string> {
  const server = createServer((req, res) => {
    seen.push({ method: req.method!, url: req.url!, authorization: req.headers.authorization });
    req.resume().on('end', () => answer(req, res));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  closers.push(() => server.close());
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'Content-Type': 'application/json' }).end(JSON.stringify(body));
}

const EXPIRATION = new Date(Date.now() + 3_600_000).toISOString().replace(/\.\d+Z$/, 'Z');
const tmp = mkdtempSync(join(tmpdir(), 'default-chain-'));

beforeEach(() => {
  saved = Object.fromEntries(STEERING.map((k) => [k, process.env[k]]));
  for (const k of STEERING) delete process.env[k];
  Object.assign(process.env, { AWS_CONFIG_FILE: '/nonexistent/aws-config', AWS_SHARED_CREDENTIALS_FILE: '/nonexistent/aws-credentials', AWS_EC2_METADATA_DISABLED: 'true' });
  calls = [];
  warnings = [];
});

afterEach(() => {
  while (closers.length) closers.pop()!();
  for (const [k, v] of Object.entries(saved)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
});

describe('the operator\'s own identity without a web identity', () => {
  it('takes static keys from the environment, and says they came from there', async () => {
    Object.assign(process.env, { AWS_ACCESS_KEY_ID: 'AKIASTATICKEYEXAMPLE', AWS_SECRET_ACCESS_KEY: 'static-secret', AWS_SESSION_TOKEN: 'session' });
    const credentials = factory();
    const chain = { base: { kind: 'environment' as const } };
    expect(credentials.sourceOf(chain)).toBeUndefined();
    await expect(credentials.forChain(chain, 'env')()).resolves.toMatchObject({ accessKeyId: 'AKIASTATICKEYEXAMPLE', secretAccessKey: 'static-secret', sessionToken: 'session' });
    expect(credentials.sourceOf(chain)).toBe('Environment');
    expect(calls).toEqual([['DefaultCredentialChain', 'success']]);
  });

  it('a chain that assumes a role from it names the same source', async () => {
    Object.assign(process.env, { AWS_ACCESS_KEY_ID: 'AKIASTATICKEYEXAMPLE', AWS_SECRET_ACCESS_KEY: 'static-secret' });
    const credentials = factory();
    await credentials.forChain({ base: { kind: 'environment' } }, 'env')();
    expect(credentials.sourceOf({ base: { kind: 'environment' }, assumeRole: { roleArn: 'arn:aws:iam::111111111111:role/Central' } })).toBe('Environment');
  });

  it('fails with what was set up and what the SDK said, when the chain finds nothing; a later try may find something', async () => {
    const credentials = factory();
    const error = await credentials.forChain({ base: { kind: 'environment' } }, 'env')().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(TokenFetchError);
    expect(error).toMatchObject({ api: 'DefaultCredentialChain', code: 'NoCredentials', retryable: true });
    expect((error as Error).message).toBe(
      'the operator has no web identity (AWS_ROLE_ARN, AWS_WEB_IDENTITY_TOKEN_FILE) and the AWS SDK\'s default credential chain found no credentials; set up: no instance metadata (AWS_EC2_METADATA_DISABLED); the SDK said: Could not load credentials from any providers',
    );
    expect(calls).toEqual([['DefaultCredentialChain', 'error']]);
    Object.assign(process.env, { AWS_ACCESS_KEY_ID: 'AKIALATEREXAMPLE', AWS_SECRET_ACCESS_KEY: 'later' });
    await expect(credentials.forChain({ base: { kind: 'environment' } }, 'env')()).resolves.toMatchObject({ accessKeyId: 'AKIALATEREXAMPLE' });
  });

  it('names a spec\'s identity by its kind before any call', () => {
    const credentials = factory();
    expect(credentials.sourceOf({ base: { kind: 'serviceAccount', namespace: 'ci', name: 'puller', audience: 'sts.amazonaws.com' } })).toBe('ServiceAccountToken');
    expect(credentials.sourceOf({ base: { kind: 'webIdentity', roleArn: 'arn:aws:iam::222222222222:role/other' } })).toBe('WebIdentity');
  });

  it.each<[string, Record<string, string>, boolean]>([
    ['both IRSA variables are a web identity', { AWS_ROLE_ARN: 'arn:aws:iam::222222222222:role/x', AWS_WEB_IDENTITY_TOKEN_FILE: '/t' }, true],
    ['a role without a token file is not', { AWS_ROLE_ARN: 'arn:aws:iam::222222222222:role/x' }, false],
    ['a token file without a role is not', { AWS_WEB_IDENTITY_TOKEN_FILE: '/t' }, false],
  ])('%s', (_name, env, expected) => {
    expect(hasEnvironmentWebIdentity(env)).toBe(expected);
  });
});

describe('EKS Pod Identity', () => {
  const tokenFile = join(tmp, 'eks-pod-identity-token');

  it('a refusal by the agent reaches the error with its status, code and reason; the agent never gets a request without the token', async () => {
    writeFileSync(tokenFile, 'header.claims.signature');
    const seen: Request[] = [];
    const agent = await serve((_req, res) => json(res, 401, { Code: 'InvalidTokenException', Message: 'the token\'s audience ["sts.amazonaws.com"] is not pods.eks.amazonaws.com' }), seen);
    const env = { AWS_CONTAINER_CREDENTIALS_FULL_URI: `${agent}/v1/credentials`, AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE: tokenFile };
    Object.assign(process.env, env);
    const error = await factory().forChain({ base: { kind: 'environment' } }, 'env')().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(TokenFetchError);
    expect(error).toMatchObject({ api: 'DefaultCredentialChain', code: 'InvalidTokenException', retryable: true });
    expect((error as Error).message).toBe(
      `the operator has no web identity (AWS_ROLE_ARN, AWS_WEB_IDENTITY_TOKEN_FILE) and EKS Pod Identity from ${agent}/v1/credentials with the token in ${tokenFile} gave no credentials: Server responded with status: 401: InvalidTokenException: the token's audience ["sts.amazonaws.com"] is not pods.eks.amazonaws.com`,
    );
    // One try and one retry: the operator's own backoff does the rest.
    expect(seen.length).toBe(2);
    expect(seen.filter((r) => r.authorization !== 'header.claims.signature')).toEqual([]);
    expect(calls).toEqual([['DefaultCredentialChain', 'error']]);
  }, 15_000);

  it('a URI the SDK refuses (plain http off loopback) is a configuration error no retry helps, named as such', async () => {
    writeFileSync(tokenFile, 'good-token');
    const credentials = factory({ ...process.env, AWS_CONTAINER_CREDENTIALS_FULL_URI: 'http://agent.invalid/v1/credentials', AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE: tokenFile });
    const error = await credentials.forChain({ base: { kind: 'environment' } }, 'env')().then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(TokenFetchError);
    expect(error).toMatchObject({ api: 'DefaultCredentialChain', code: 'InvalidContainerCredentialsUri', retryable: false });
    expect((error as Error).message).toMatch(/^the operator has no web identity \(AWS_ROLE_ARN, AWS_WEB_IDENTITY_TOKEN_FILE\) and EKS Pod Identity from http:\/\/agent\.invalid\/v1\/credentials with the token in .* is not usable: /);
  });

  it('is steered by the factory\'s environment, and says PodIdentity', async () => {
    writeFileSync(tokenFile, 'good-token');
    const seen: Request[] = [];
    const agent = await serve(
      (_req, res) => json(res, 200, { AccessKeyId: 'ASIAPODIDENTITY', SecretAccessKey: 's', Token: 't', AccountId: '222222222222', Expiration: EXPIRATION }),
      seen,
    );
    const credentials = factory({ ...process.env, AWS_CONTAINER_CREDENTIALS_FULL_URI: `${agent}/v1/credentials`, AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE: tokenFile });
    const chain = { base: { kind: 'environment' as const } };
    await expect(credentials.forChain(chain, 'env')()).resolves.toMatchObject({ accessKeyId: 'ASIAPODIDENTITY' });
    expect(credentials.sourceOf(chain)).toBe('PodIdentity');
    expect(seen).toEqual([{ method: 'GET', url: '/v1/credentials', authorization: 'good-token' }]);
  });

  it('static keys in the environment come first, as in the SDK\'s chain, and the agent is not asked', async () => {
    const seen: Request[] = [];
    const agent = await serve((_req, res) => json(res, 500, {}), seen);
    Object.assign(process.env, { AWS_CONTAINER_CREDENTIALS_FULL_URI: `${agent}/v1/credentials`, AWS_CONTAINER_AUTHORIZATION_TOKEN: 'tok', AWS_ACCESS_KEY_ID: 'AKIASTATICKEYEXAMPLE', AWS_SECRET_ACCESS_KEY: 's' });
    const credentials = factory();
    await expect(credentials.forChain({ base: { kind: 'environment' } }, 'env')()).resolves.toMatchObject({ accessKeyId: 'AKIASTATICKEYEXAMPLE' });
    expect(credentials.sourceOf({ base: { kind: 'environment' } })).toBe('Environment');
    expect(seen).toEqual([]);
  });
});

describe('the operator\'s web identity', () => {
  it('is labelled WebIdentity from the factory\'s environment, whatever the process environment holds', async () => {
    const tokenFile = join(tmp, 'irsa-token');
    writeFileSync(tokenFile, 'irsa-token');
    const seen: Request[] = [];
    const sts = await serve((_req, res) => {
      res.writeHead(200, { 'Content-Type': 'text/xml' }).end(
        `<AssumeRoleWithWebIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><AssumeRoleWithWebIdentityResult><Credentials><AccessKeyId>ASIAIRSA</AccessKeyId><SecretAccessKey>s</SecretAccessKey><SessionToken>t</SessionToken><Expiration>${EXPIRATION}</Expiration></Credentials></AssumeRoleWithWebIdentityResult><ResponseMetadata><RequestId>1</RequestId></ResponseMetadata></AssumeRoleWithWebIdentityResponse>`,
      );
    }, seen);
    process.env.AWS_ENDPOINT_URL = sts;
    const credentials = factory({ ...process.env, AWS_ROLE_ARN: 'arn:aws:iam::222222222222:role/irsa', AWS_WEB_IDENTITY_TOKEN_FILE: tokenFile });
    const chain = { base: { kind: 'environment' as const } };
    await expect(credentials.forChain(chain, 'env')()).resolves.toMatchObject({ accessKeyId: 'ASIAIRSA' });
    expect(seen).toHaveLength(1);
    expect(credentials.sourceOf(chain)).toBe('WebIdentity');
    expect(calls).toEqual([['AssumeRoleWithWebIdentity', 'success']]);
  });
});

describe('instance metadata', () => {
  it('is used when nothing else is set up, with one warning in the operator\'s log however often it is asked', async () => {
    const imds = await serve((req, res) => {
      if (req.method === 'PUT' && req.url === '/latest/api/token') return void res.writeHead(200).end('imds-session');
      if (req.url === '/latest/meta-data/iam/security-credentials/') return void res.writeHead(200).end('node-role');
      if (req.url === '/latest/meta-data/iam/security-credentials/node-role') {
        return json(res, 200, { Code: 'Success', Type: 'AWS-HMAC', AccessKeyId: 'ASIANODEROLE', SecretAccessKey: 's', Token: 't', Expiration: EXPIRATION });
      }
      res.writeHead(404).end();
    });
    delete process.env.AWS_EC2_METADATA_DISABLED;
    process.env.AWS_EC2_METADATA_SERVICE_ENDPOINT = imds;
    const credentials = factory();
    const chain = { base: { kind: 'environment' as const } };
    await expect(credentials.forChain(chain, 'env')()).resolves.toMatchObject({ accessKeyId: 'ASIANODEROLE' });
    expect(credentials.sourceOf(chain)).toBe('InstanceMetadata');
    credentials.invalidateAll();
    await expect(credentials.forChain(chain, 'env')()).resolves.toMatchObject({ accessKeyId: 'ASIANODEROLE' });
    expect(warnings).toEqual([
      [
        { credentialSource: 'InstanceMetadata' },
        'the operator has no web identity, Pod Identity or keys: it uses the node\'s instance role, from instance metadata; set AWS_EC2_METADATA_DISABLED=true to forbid that',
      ],
    ]);
  });
});

describe('the SDK\'s own warnings', () => {
  it('go to the operator\'s log, not the console', async () => {
    Object.assign(process.env, { AWS_PROFILE: 'absent', AWS_ACCESS_KEY_ID: 'AKIASTATICKEYEXAMPLE', AWS_SECRET_ACCESS_KEY: 's' });
    await expect(factory().forChain({ base: { kind: 'environment' } }, 'env')()).rejects.toThrow(TokenFetchError);
    expect(warnings.map(([text]) => String(text))).toEqual([expect.stringContaining('Multiple credential sources detected')]);
  });
});
