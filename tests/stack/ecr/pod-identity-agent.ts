// A stand-in for the EKS Pod Identity agent (http://169.254.170.23/v1/credentials on a node; here
// 127.0.0.1, which the SDK's container credentials provider also accepts over plain HTTP). Like the
// agent with eks-auth:AssumeRoleForPodIdentity behind it, it takes the pod's projected
// ServiceAccount token in the Authorization header, checks it (signed by the stack's API server,
// for the audience pods.eks.amazonaws.com, not expired), finds the role associated with its
// ServiceAccount, and answers with that role's credentials, from moto (sts:AssumeRole), in the
// container credentials format. It counts what it answered, under a path AWS never uses.
import { createPublicKey, verify } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';

export const POD_IDENTITY_AUDIENCE = 'pods.eks.amazonaws.com';
export const POD_IDENTITY_STATS_PATH = '/_stack/pod-identity';

export interface PodIdentityAssociation {
  namespace: string;
  serviceAccount: string;
  roleArn: string;
}

export interface PodIdentityAgentConfig {
  port: number;
  /** The API server's ServiceAccount token issuer (--service-account-issuer). */
  issuer: string;
  /** The public half of its signing key (--service-account-key-file), PEM. */
  publicKeyFile: string;
  associations: PodIdentityAssociation[];
}

export interface PodIdentityStats {
  requests: number;
  /** Requests without an Authorization header: the agent's clients always send the pod's token. */
  unauthenticated: number;
  served: number;
  /** Refusals by HTTP status. */
  refused: Record<string, number>;
  /** What the last refusal said, and the ServiceAccount of the last answer. */
  lastRefusal?: string;
  lastServed?: string;
}

class Refusal extends Error {
  readonly status: number;
  readonly code: string;
  constructor(status: number, code: string, message: string) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

interface Claims {
  iss?: string;
  sub?: string;
  aud?: string | string[];
  exp?: number;
  nbf?: number;
}

const ALGORITHM_FOR_KEY: Readonly<Record<string, string>> = { ec: 'ES256', rsa: 'RS256' };

/** The token's claims, if the stack's API server signed it for the agent's audience and it is current. */
export function verifyServiceAccountToken(token: string, publicKeyPem: string, issuer: string, nowSeconds: number): Claims {
  if (!token) throw new Refusal(400, 'InvalidRequest', 'Service account token cannot be empty');
  const parts = token.split('.');
  if (parts.length !== 3) throw new Refusal(400, 'InvalidRequest', 'Service account token cannot be parsed: not a JWT');
  let header: { alg?: string };
  let claims: Claims;
  try {
    header = JSON.parse(Buffer.from(parts[0]!, 'base64url').toString('utf8')) as { alg?: string };
    claims = JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8')) as Claims;
  } catch {
    throw new Refusal(400, 'InvalidRequest', 'Service account token cannot be parsed');
  }
  // The algorithm must be the key's: verify() goes by the key's type and would take an "RS256" token signed with an EC key.
  const keyType = createPublicKey(publicKeyPem).asymmetricKeyType ?? 'unknown';
  const expected = ALGORITHM_FOR_KEY[keyType];
  if (header.alg !== expected) throw new Refusal(401, 'InvalidTokenException', `unsupported token algorithm ${header.alg}: the cluster's ${keyType} key signs ${expected ?? 'nothing this agent knows'}`);
  const signed = verify('sha256', Buffer.from(`${parts[0]}.${parts[1]}`), { key: publicKeyPem, dsaEncoding: 'ieee-p1363' }, Buffer.from(parts[2]!, 'base64url'));
  if (!signed) throw new Refusal(401, 'InvalidTokenException', 'the token\'s signature does not verify');
  if (claims.iss !== issuer) throw new Refusal(401, 'InvalidTokenException', `the token's issuer ${claims.iss} is not the cluster's`);
  if (![claims.aud].flat().includes(POD_IDENTITY_AUDIENCE)) throw new Refusal(401, 'InvalidTokenException', `the token's audience ${JSON.stringify(claims.aud)} is not ${POD_IDENTITY_AUDIENCE}`);
  if (typeof claims.exp !== 'number' || claims.exp <= nowSeconds) throw new Refusal(401, 'ExpiredTokenException', 'the token has expired');
  if (typeof claims.nbf === 'number' && claims.nbf > nowSeconds) throw new Refusal(401, 'InvalidTokenException', 'the token is not valid yet');
  return claims;
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

export function createPodIdentityAgent(config: PodIdentityAgentConfig, motoUrl: string): { server: Server; stats: PodIdentityStats } {
  const publicKey = readFileSync(config.publicKeyFile, 'utf8');
  const stats: PodIdentityStats = { requests: 0, unauthenticated: 0, served: 0, refused: {} };
  // Any key will do as the caller: moto does not check who asks to assume a role.
  const sts = new STSClient({ region: 'us-east-1', endpoint: motoUrl, credentials: { accessKeyId: 'AKIASTACKPODIDENTITY', secretAccessKey: 'unused' }, maxAttempts: 2 });

  const credentials = async (req: IncomingMessage, res: ServerResponse) => {
    stats.requests++;
    if (!req.headers.authorization) stats.unauthenticated++;
    try {
      const claims = verifyServiceAccountToken(String(req.headers.authorization ?? ''), publicKey, config.issuer, Math.floor(Date.now() / 1000));
      const [, namespace, name] = /^system:serviceaccount:([^:]+):([^:]+)$/.exec(claims.sub ?? '') ?? [];
      const association = config.associations.find((a) => a.namespace === namespace && a.serviceAccount === name);
      if (!association) throw new Refusal(403, 'AccessDeniedException', `no Pod Identity association for ${claims.sub}`);
      const out = await sts.send(new AssumeRoleCommand({ RoleArn: association.roleArn, RoleSessionName: `eks-stack-${name}`.slice(0, 64) }));
      const c = out.Credentials;
      if (!c?.AccessKeyId || !c.SecretAccessKey || !c.SessionToken || !c.Expiration) throw new Error('AssumeRole returned no credentials');
      stats.served++;
      stats.lastServed = claims.sub!;
      send(res, 200, { AccessKeyId: c.AccessKeyId, SecretAccessKey: c.SecretAccessKey, Token: c.SessionToken, AccountId: association.roleArn.split(':')[4], Expiration: c.Expiration.toISOString() });
    } catch (error) {
      const refusal = error instanceof Refusal ? error : new Refusal(500, 'ServiceUnavailable', (error as Error).message);
      stats.refused[refusal.status] = (stats.refused[refusal.status] ?? 0) + 1;
      stats.lastRefusal = `${refusal.code}: ${refusal.message}`;
      send(res, refusal.status, { Code: refusal.code, Message: refusal.message });
    }
  };

  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method === 'GET' && path === '/v1/credentials') return void credentials(req, res);
    if (req.method === 'GET' && path === POD_IDENTITY_STATS_PATH) return send(res, 200, stats);
    send(res, 404, { Code: 'NotFound', Message: `no route ${req.method} ${path}` });
  });
  server.on('close', () => sts.destroy());
  return { server, stats };
}
