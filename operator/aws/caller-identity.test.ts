// Who the operator is on the default chain: how often STS is asked (credentials and ask are small
// fakes), and GetCallerIdentity through the real SDK against a server on 127.0.0.1.
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { AwsCredentialIdentity } from '@aws-sdk/types';
import { DefaultChainPrincipal, PRINCIPAL_MAX_AGE_MS, PRINCIPAL_RETRY_MS, stsCallerIdentity } from './caller-identity.ts';

const T0 = Date.parse('2025-01-15T00:00:00Z');
const HOUR = 3_600_000;
const ROLE = 'arn:aws:sts::123456789012:assumed-role/ecr-sync';

function world(first: string | Error = `${ROLE}/pod-1`) {
  let now = T0;
  let credentials: AwsCredentialIdentity | Error = { accessKeyId: 'ASIA1', secretAccessKey: 's', expiration: new Date(T0 + 6 * HOUR) };
  const answers: Array<string | Error> = [first];
  const asked: AwsCredentialIdentity[] = [];
  const recorded: string[] = [];
  const warnings: unknown[][] = [];
  const infos: unknown[][] = [];
  const principal = new DefaultChainPrincipal({
    credentials: async () => {
      if (credentials instanceof Error) throw credentials;
      return credentials;
    },
    ask: async (creds) => {
      asked.push(creds);
      await Promise.resolve();
      const answer = answers.length > 1 ? answers.shift()! : answers[0]!;
      if (answer instanceof Error) throw answer;
      return answer;
    },
    record: (api, result) => void recorded.push(`${api} ${result}`),
    log: { debug: () => {}, info: (...c: unknown[]) => void infos.push(c), warn: (...c: unknown[]) => void warnings.push(c), error: () => {} },
    now: () => now,
  });
  return {
    principal,
    asked,
    recorded,
    warnings,
    infos,
    advance: (ms: number) => (now += ms),
    /** The SDK refreshed the credentials: new ones, with a new expiry. */
    refresh: (accessKeyId: string) => (credentials = { accessKeyId, secretAccessKey: 's', expiration: new Date(now + 6 * HOUR) }),
    noCredentials: (error: Error) => (credentials = error),
    staticKeys: () => (credentials = { accessKeyId: 'AKIASTATIC', secretAccessKey: 's' }),
    answer: (...next: Array<string | Error>) => answers.splice(0, answers.length, ...next),
  };
}

describe('the default chain\'s principal', () => {
  it('is asked once under the same credentials, however many syncs ask at once', async () => {
    const w = world();
    const all = await Promise.all([w.principal.principal(), w.principal.principal(), w.principal.principal()]);
    w.advance(10 * 60_000);
    expect(await w.principal.principal()).toBe(ROLE);
    expect(all).toEqual([ROLE, ROLE, ROLE]);
    expect(w.asked).toHaveLength(1);
    expect(w.recorded).toEqual(['GetCallerIdentity success']);
    expect(w.infos).toEqual([[{ principal: ROLE, previous: undefined }, 'the operator\'s default credentials stand for this principal; the status names it']]);
  });

  it('is asked again, with the new credentials, once the SDK refreshed them', async () => {
    const w = world();
    await w.principal.principal();
    w.refresh('ASIA2');
    w.answer('arn:aws:sts::123456789012:assumed-role/ecr-sync-v2/pod-1');
    expect(await w.principal.principal()).toBe('arn:aws:sts::123456789012:assumed-role/ecr-sync-v2');
    expect(w.asked.map((c) => c.accessKeyId)).toEqual(['ASIA1', 'ASIA2']);
  });

  it.each<[string, (w: ReturnType<typeof world>) => void]>([
    ['credentials that expire', () => {}],
    ['static keys, which never expire', (w) => w.staticKeys()],
  ])('under %s, is asked again after 15 minutes all the same', async (_name, setUp) => {
    const w = world();
    setUp(w);
    await w.principal.principal();
    w.advance(PRINCIPAL_MAX_AGE_MS - 1);
    await w.principal.principal();
    expect(w.asked).toHaveLength(1);
    w.advance(1);
    await w.principal.principal();
    expect(w.asked).toHaveLength(2);
  });

  it('answers at once with what it knew after 15 minutes under the same credentials, and names the new answer once STS gave it', async () => {
    const w = world();
    await w.principal.principal();
    w.advance(PRINCIPAL_MAX_AGE_MS);
    w.answer(`${ROLE}-v2/pod-1`);
    expect(await w.principal.principal()).toBe(ROLE);
    expect(w.asked).toHaveLength(2);
    await new Promise((resolve) => setImmediate(resolve));
    expect(await w.principal.principal()).toBe(`${ROLE}-v2`);
    expect(w.asked).toHaveLength(2);
  });

  it('is unknown when STS fails, said once in the log with the error, and asked again after 30 s, then less often', async () => {
    const w = world(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9'), { name: 'NetworkingError' }));
    const askedAfter = async (ms: number) => {
      const before = w.asked.length;
      w.advance(ms - 1);
      expect(await w.principal.principal()).toBeUndefined();
      expect(w.asked.length).toBe(before);
      w.advance(1);
      expect(await w.principal.principal()).toBeUndefined();
      expect(w.asked.length).toBe(before + 1);
    };
    expect(await w.principal.principal()).toBeUndefined();
    await askedAfter(PRINCIPAL_RETRY_MS);
    await askedAfter(2 * PRINCIPAL_RETRY_MS);
    await askedAfter(4 * PRINCIPAL_RETRY_MS);
    for (let i = 0; i < 8; i++) await askedAfter(Math.min(8 * PRINCIPAL_RETRY_MS * 2 ** i, PRINCIPAL_MAX_AGE_MS));
    expect(w.recorded).toEqual(Array(w.asked.length).fill('GetCallerIdentity error'));
    expect(w.warnings).toEqual([
      [
        { err: 'connect ECONNREFUSED 127.0.0.1:9', api: 'GetCallerIdentity' },
        'GetCallerIdentity failed: the status names no principal, so a restart fetches every token again and rewrites the secrets; asking again in 30 s, then less often',
      ],
    ]);
    w.answer(`${ROLE}/pod-1`);
    w.advance(PRINCIPAL_MAX_AGE_MS);
    expect(await w.principal.principal()).toBe(ROLE);
    // A success starts the count again.
    w.refresh('ASIA2');
    w.answer(new Error('Rate exceeded'));
    await w.principal.principal();
    w.answer(`${ROLE}/pod-1`);
    w.advance(PRINCIPAL_RETRY_MS);
    expect(await w.principal.principal()).toBe(ROLE);
    expect(w.asked.at(-1)!.accessKeyId).toBe('ASIA2');
    expect(w.warnings).toHaveLength(2);
  });

  it('is unknown, and STS is not asked, when the default chain has no credentials', async () => {
    const w = world();
    w.noCredentials(new Error('Could not load credentials from any providers'));
    expect(await w.principal.principal()).toBeUndefined();
    expect(w.asked).toHaveLength(0);
    expect(w.recorded).toEqual([]);
    expect(w.warnings.map(([fields, message]) => [(fields as { err: string }).err, String(message).split(':')[0]])).toEqual([
      ['Could not load credentials from any providers', 'the operator\'s default credentials gave none'],
    ]);
  });

  it('is unknown when STS answers with no ARN it can use', async () => {
    const w = world('arn:aws:sts::123456789012:assumed-role/no-session');
    expect(await w.principal.principal()).toBeUndefined();
    expect(w.recorded).toEqual(['GetCallerIdentity success']);
    expect(w.warnings).toHaveLength(1);
    expect(String(w.warnings[0]![1])).toContain('answered with no principal ARN it could use');
  });

  it('keeps its last answer when asking again fails: a moment\'s outage of STS must not rewrite every secret', async () => {
    const w = world();
    await w.principal.principal();
    w.refresh('ASIA2');
    w.answer(new Error('Rate exceeded'));
    expect(await w.principal.principal()).toBe(ROLE);
    expect(String(w.warnings[0]![1])).toContain(`it keeps naming ${ROLE}`);
    w.answer('arn:aws:iam::123456789012:user/ci');
    w.advance(PRINCIPAL_RETRY_MS);
    expect(await w.principal.principal()).toBe('arn:aws:iam::123456789012:user/ci');
    expect(w.infos.at(-1)).toEqual([{ principal: 'arn:aws:iam::123456789012:user/ci', previous: ROLE }, 'the operator\'s default credentials stand for this principal; the status names it']);
  });
});

describe('GetCallerIdentity on the AWS SDK', () => {
  const closers: Array<() => void> = [];
  let saved: Record<string, string | undefined>;
  // AWS_IGNORE_CONFIGURED_ENDPOINT_URLS would send these signed calls past the local STS to the real one.
  const STEERING = ['AWS_ENDPOINT_URL', 'AWS_ENDPOINT_URL_STS', 'AWS_IGNORE_CONFIGURED_ENDPOINT_URLS', 'AWS_CONFIG_FILE', 'AWS_SHARED_CREDENTIALS_FILE', 'AWS_PROFILE'];

  beforeEach(() => {
    saved = Object.fromEntries(STEERING.map((k) => [k, process.env[k]]));
    for (const k of STEERING) delete process.env[k];
    Object.assign(process.env, { AWS_CONFIG_FILE: '/nonexistent/aws-config', AWS_SHARED_CREDENTIALS_FILE: '/nonexistent/aws-credentials' });
  });

  afterEach(() => {
    while (closers.length) closers.pop()!();
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  });

  /** STS on 127.0.0.1, at AWS_ENDPOINT_URL as the stack gives it; what it was asked. */
  async function sts(answer: (res: ServerResponse) => void): Promise<Array<{ body: string; authorization: string | undefined }>> {
    const seen: Array<{ body: string; authorization: string | undefined }> = [];
    const server = createServer((req: IncomingMessage, res) => {
      let body = '';
      req.on('data', (d: Buffer) => (body += d.toString()));
      req.on('end', () => {
        seen.push({ body, authorization: req.headers.authorization });
        answer(res);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    closers.push(() => server.closeAllConnections());
    closers.push(() => server.close());
    process.env.AWS_ENDPOINT_URL = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    return seen;
  }
  const credentials = { accessKeyId: 'ASIAPODIDENTITY', secretAccessKey: 'secret', sessionToken: 'session' };

  it('asks with the credentials given, and returns the ARN STS names', async () => {
    const seen = await sts((res) =>
      res
        .writeHead(200, { 'Content-Type': 'text/xml' })
        .end(
          `<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><GetCallerIdentityResult><Arn>${ROLE}/pod-1</Arn><UserId>AROA:pod-1</UserId><Account>123456789012</Account></GetCallerIdentityResult><ResponseMetadata><RequestId>1</RequestId></ResponseMetadata></GetCallerIdentityResponse>`,
        ),
    );
    await expect(stsCallerIdentity({ region: 'eu-west-1' })(credentials)).resolves.toBe(`${ROLE}/pod-1`);
    expect(seen).toHaveLength(1);
    expect(seen[0]!.body).toContain('Action=GetCallerIdentity');
    expect(seen[0]!.authorization).toMatch(/^AWS4-HMAC-SHA256 Credential=ASIAPODIDENTITY\/\d{8}\/eu-west-1\/sts\/aws4_request/);
  });

  it('fails with STS\'s error when it refuses', async () => {
    await sts((res) =>
      res
        .writeHead(403, { 'Content-Type': 'text/xml' })
        .end('<ErrorResponse><Error><Type>Sender</Type><Code>InvalidClientTokenId</Code><Message>The security token included in the request is invalid.</Message></Error><RequestId>1</RequestId></ErrorResponse>'),
    );
    await expect(stsCallerIdentity({ region: 'us-east-1' })(credentials)).rejects.toMatchObject({ name: 'InvalidClientTokenId' });
  });

  it('gives up on an STS that never answers within its timeout, one retry included', async () => {
    const seen = await sts(() => {});
    await expect(stsCallerIdentity({ region: 'us-east-1', requestTimeoutMs: 200 })(credentials)).rejects.toThrow();
    expect(seen.length).toBeGreaterThanOrEqual(1);
    expect(seen.length).toBeLessThanOrEqual(2);
  });

  it('stops when the operator shuts down', async () => {
    const shutdown = new AbortController();
    // The local STS has the request (so nothing went elsewhere), and never answers.
    const seen = await sts(() => shutdown.abort());
    await expect(stsCallerIdentity({ region: 'us-east-1' })(credentials, shutdown.signal)).rejects.toMatchObject({ name: 'AbortError' });
    expect(seen).toHaveLength(1);
  });
});
