// The emulator's GetAuthorizationToken, called by the real SDK clients (their own serializers and
// signers) on 127.0.0.1: ECR and ECR Public told apart by target and signing name, ECR Public in
// us-east-1 only, and the IAM actions each needs of the caller.
import { mkdtempSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ECRClient, GetAuthorizationTokenCommand } from '@aws-sdk/client-ecr';
import { ECRPUBLICClient, GetAuthorizationTokenCommand as GetPublicAuthorizationTokenCommand } from '@aws-sdk/client-ecr-public';
import { sendAwsError } from './aws-wire.ts';
import { handleTokenCall, TOKEN_TARGETS } from './ecr-api.ts';
import { EmulatorState } from './state.ts';

const CALLER = 'arn:aws:sts::222222222222:assumed-role/ecr-credential-sync/s';
const credentials = { accessKeyId: 'AKIAEMULATORTEST0000', secretAccessKey: 'unused' };

let server: Server;
let endpoint: string;
let state: EmulatorState;

beforeAll(async () => {
  state = new EmulatorState(join(mkdtempSync(join(tmpdir(), 'ecr-api-')), 'state.json'), 3600, []);
  const resolver = { resolve: async (key: string) => (key === credentials.accessKeyId ? CALLER : Promise.reject(new Error(`unknown key ${key}`))) };
  server = createServer((req, res) => {
    const kind = TOKEN_TARGETS[String(req.headers['x-amz-target'] ?? '')];
    if (!kind) return sendAwsError(res, 400, 'UnknownOperationException', `no such target ${String(req.headers['x-amz-target'])}`);
    void handleTokenCall(req, res, kind, state, resolver);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  state.save();
  await new Promise((resolve) => server.close(resolve));
});

afterEach(() => {
  state.denied.length = 0;
  state.calls.length = 0;
});

const publicClient = (region = 'us-east-1') => new ECRPUBLICClient({ region, endpoint, credentials, maxAttempts: 1 });
const privateClient = (region = 'us-east-1') => new ECRClient({ region, endpoint, credentials, maxAttempts: 1 });
const errorOf = (promise: Promise<unknown>) =>
  promise.then(
    () => {
      throw new Error('the call succeeded');
    },
    (error: Error) => ({ name: error.name, message: error.message }),
  );

describe('the emulated GetAuthorizationToken', () => {
  it('answers ECR Public with one authorizationData for the caller, whose password is an ECR Public token of us-east-1', async () => {
    const out = await publicClient().send(new GetPublicAuthorizationTokenCommand({}));
    const [user, password] = Buffer.from(out.authorizationData!.authorizationToken!, 'base64').toString().split(':');
    expect(user).toBe('AWS');
    expect(out.authorizationData!.expiresAt).toBeInstanceOf(Date);
    expect(state.tokens.lookup(password!)).toMatchObject({ kind: 'ecr-public', region: 'us-east-1', principal: CALLER, state: 'valid' });
    expect(state.calls.map((c) => [c.api, c.signingName, c.region, c.result])).toEqual([['ecr-public:GetAuthorizationToken', 'ecr-public', 'us-east-1', 'success']]);
  });

  it('answers ECR with a private token of the region it was signed for', async () => {
    const out = await privateClient('eu-west-1').send(new GetAuthorizationTokenCommand({}));
    const password = Buffer.from(out.authorizationData![0]!.authorizationToken!, 'base64').toString().slice(4);
    expect(state.tokens.lookup(password)).toMatchObject({ kind: 'ecr', region: 'eu-west-1' });
    expect(state.calls[0]).toMatchObject({ api: 'GetAuthorizationToken', signingName: 'ecr' });
  });

  it('refuses ECR Public signed for another region, as AWS does', async () => {
    expect(await errorOf(publicClient('eu-west-1').send(new GetPublicAuthorizationTokenCommand({})))).toMatchObject({ name: 'InvalidSignatureException' });
  });

  it('refuses a call whose target and signing name name different services', async () => {
    const res = await fetch(endpoint, {
      method: 'POST',
      headers: {
        'Content-Type': 'application/x-amz-json-1.1',
        'X-Amz-Target': 'SpencerFrontendService.GetAuthorizationToken',
        Authorization: `AWS4-HMAC-SHA256 Credential=${credentials.accessKeyId}/20250101/us-east-1/ecr/aws4_request, SignedHeaders=host, Signature=00`,
      },
      body: '{}',
    });
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({ __type: 'InvalidSignatureException', message: "Credential should be scoped to correct service: 'ecr-public'. " });
  });

  it.each<[string, string | undefined, string]>([
    ['every action', undefined, 'ecr-public:GetAuthorizationToken'],
    ['ecr-public:GetAuthorizationToken', 'ecr-public:GetAuthorizationToken', 'ecr-public:GetAuthorizationToken'],
    ['sts:GetServiceBearerToken alone', 'sts:GetServiceBearerToken', 'sts:GetServiceBearerToken'],
    ['sts:* alone', 'sts:*', 'sts:GetServiceBearerToken'],
  ])('refuses ECR Public to a caller denied %s, naming the action it lacks', async (_name, action, named) => {
    state.denied.push({ principal: 'arn:aws:iam::222222222222:role/ecr-credential-sync', ...(action ? { action } : {}) });
    const error = await errorOf(publicClient().send(new GetPublicAuthorizationTokenCommand({})));
    expect(error).toMatchObject({ name: 'AccessDeniedException' });
    expect(error.message).toBe(`User: ${CALLER} is not authorized to perform: ${named} on resource: * because no identity-based policy allows the ${named} action`);
  });

  it('still answers ECR to a caller denied only sts:GetServiceBearerToken: private tokens do not need it', async () => {
    state.denied.push({ principal: CALLER, action: 'sts:GetServiceBearerToken' });
    await expect(privateClient().send(new GetAuthorizationTokenCommand({}))).resolves.toBeDefined();
  });
});
