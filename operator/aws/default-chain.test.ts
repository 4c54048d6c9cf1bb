// The operator's own identity without a web identity: the AWS SDK's real default chain, steered by
// this process's environment only (no profile files, no instance metadata, no container endpoint),
// so nothing here leaves the process. EKS Pod Identity, over HTTP, is tests/e2e/pod-identity.test.ts.
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
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
  'AWS_EC2_METADATA_DISABLED',
];
let saved: Record<string, string | undefined>;
let calls: Array<[string, string]>;

function factory(): CredentialFactory {
  return new CredentialFactory({ env: process.env, stsRegion: 'us-east-1', record: (api, result) => calls.push([api, result]) });
}

beforeEach(() => {
  saved = Object.fromEntries(STEERING.map((k) => [k, process.env[k]]));
  for (const k of STEERING) delete process.env[k];
  Object.assign(process.env, { AWS_CONFIG_FILE: '/nonexistent/aws-config', AWS_SHARED_CREDENTIALS_FILE: '/nonexistent/aws-credentials', AWS_EC2_METADATA_DISABLED: 'true' });
  calls = [];
});

afterEach(() => {
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
