// The Pod Identity stand-in's check of the token a pod hands it, with keys made here as the
// stack's PKI makes its ServiceAccount signing key (EC P-256, ES256).
import { generateKeyPairSync, sign } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createPodIdentityAgent, POD_IDENTITY_AUDIENCE, POD_IDENTITY_STATS_PATH, verifyServiceAccountToken } from './pod-identity-agent.ts';

const ISSUER = 'https://kubernetes.default.svc.cluster.local';
const NOW = 1_800_000_000;
const keys = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const other = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const PUBLIC = keys.publicKey.export({ type: 'spki', format: 'pem' }).toString();

function token(claims: object, key = keys.privateKey, alg = 'ES256'): string {
  const b64 = (v: object) => Buffer.from(JSON.stringify(v)).toString('base64url');
  const body = `${b64({ alg, kid: 'k' })}.${b64(claims)}`;
  return `${body}.${sign('sha256', Buffer.from(body), { key, dsaEncoding: 'ieee-p1363' }).toString('base64url')}`;
}

const GOOD = { iss: ISSUER, sub: 'system:serviceaccount:ecr-credential-sync:ecr-credential-sync', aud: [POD_IDENTITY_AUDIENCE], exp: NOW + 3600, nbf: NOW - 10 };

describe('the Pod Identity stand-in\'s token check', () => {
  it('accepts a token the cluster signed for pods.eks.amazonaws.com, and returns its claims', () => {
    expect(verifyServiceAccountToken(token(GOOD), PUBLIC, ISSUER, NOW)).toMatchObject({ sub: GOOD.sub });
  });

  it('accepts RS256 from a cluster whose key is RSA, and refuses ES256 there', () => {
    const pub = rsa.publicKey.export({ type: 'spki', format: 'pem' }).toString();
    expect(verifyServiceAccountToken(token(GOOD, rsa.privateKey, 'RS256'), pub, ISSUER, NOW)).toMatchObject({ sub: GOOD.sub });
    expect(() => verifyServiceAccountToken(token(GOOD, rsa.privateKey, 'ES256'), pub, ISSUER, NOW)).toThrow(/unsupported token algorithm ES256: the cluster's rsa key signs RS256/);
  });

  it.each<[string, string, RegExp]>([
    ['an empty header', '', /cannot be empty/],
    ['something that is not a JWT', 'not-a-token', /cannot be parsed/],
    ['a token signed by another key', token(GOOD, other.privateKey), /signature does not verify/],
    ['a token for the STS audience (an IRSA token)', token({ ...GOOD, aud: ['sts.amazonaws.com'] }), /audience .* is not pods.eks.amazonaws.com/],
    ['a token from another issuer', token({ ...GOOD, iss: 'https://elsewhere.example' }), /issuer/],
    ['an expired token', token({ ...GOOD, exp: NOW - 1 }), /expired/],
    ['a token not valid yet', token({ ...GOOD, nbf: NOW + 60 }), /not valid yet/],
    ['an unsigned token', token(GOOD, keys.privateKey, 'none'), /unsupported token algorithm none/],
    ['a token that says RS256 but is signed with the cluster\'s EC key', token(GOOD, keys.privateKey, 'RS256'), /unsupported token algorithm RS256: the cluster's ec key signs ES256/],
  ])('refuses %s', (_name, value, message) => {
    expect(() => verifyServiceAccountToken(value, PUBLIC, ISSUER, NOW)).toThrow(message);
  });
});

describe('the Pod Identity stand-in over HTTP', () => {
  const keyFile = join(mkdtempSync(join(tmpdir(), 'pod-identity-')), 'sa.pub');
  writeFileSync(keyFile, PUBLIC);
  // moto is not running here: a dead port on loopback, so an associated account gets as far as sts:AssumeRole.
  const agent = createPodIdentityAgent({ port: 0, issuer: ISSUER, publicKeyFile: keyFile, associations: [{ namespace: 'ecr-credential-sync', serviceAccount: 'ecr-credential-sync', roleArn: 'arn:aws:iam::222222222222:role/r' }] }, 'http://127.0.0.1:9');
  let base = '';
  beforeAll(async () => {
    await new Promise<void>((resolve) => agent.server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(agent.server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise((resolve) => agent.server.close(resolve)));
  const now = () => Math.floor(Date.now() / 1000);
  const ask = async (authorization?: string) => {
    const res = await fetch(`${base}/v1/credentials`, authorization === undefined ? {} : { headers: { Authorization: authorization } });
    return { status: res.status, body: (await res.json()) as { Code: string; Message: string } };
  };

  it.each<[string, () => string | undefined, number, string]>([
    ['no Authorization header is a bad request', () => undefined, 400, 'InvalidRequest'],
    ['a token for the wrong audience is refused', () => token({ ...GOOD, aud: ['sts.amazonaws.com'], exp: now() + 600 }), 401, 'InvalidTokenException'],
    ['a ServiceAccount with no association is denied', () => token({ ...GOOD, sub: 'system:serviceaccount:ci:other', exp: now() + 600, nbf: now() - 5 }), 403, 'AccessDeniedException'],
    ['the associated ServiceAccount gets as far as AssumeRole', () => token({ ...GOOD, exp: now() + 600, nbf: now() - 5 }), 500, 'ServiceUnavailable'],
  ])('%s', async (_name, authorization, status, code) => {
    const before = agent.stats.requests;
    const unauthenticated = agent.stats.unauthenticated;
    const answer = await ask(authorization());
    expect({ status: answer.status, code: answer.body.Code }).toEqual({ status, code });
    const stats = (await (await fetch(`${base}${POD_IDENTITY_STATS_PATH}`)).json()) as typeof agent.stats;
    expect(stats.requests).toBe(before + 1);
    expect(stats.unauthenticated).toBe(unauthenticated + (authorization() === undefined ? 1 : 0));
    expect(stats.lastRefusal).toBe(`${code}: ${answer.body.Message}`);
  });
});
