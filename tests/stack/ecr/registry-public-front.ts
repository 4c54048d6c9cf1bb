// ECR Public's front door, as public.ecr.aws keeps it: the registry token flow (a Bearer challenge
// naming a /token/ endpoint). The endpoint hands an anonymous caller a pull-only token, takes
// Basic AWS:<password> only with a valid ECR Public token (401 for anything else: a private ECR
// token, an expired, revoked or made-up one), and the registry then decides each request by its
// policy: anyone pulls, the owner's RegistryAdmin pushes. What it allows streams through to the
// registry behind it on a unix socket.
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { evaluatePolicy } from './policy.ts';
import { proxyRequest } from './proxy.ts';
import { parseBasic, registryTarget } from './registry-front.ts';
import { ECR_PUBLIC, publicRegistryPolicy } from './registries.ts';
import type { EmulatorState, RegistryRequestRecord } from './state.ts';

export interface PublicFrontConfig {
  port: number;
  backendSocket: string;
}

/** Who a bearer token speaks for: an ECR Public token's principal, or nobody (anonymous). */
interface Bearer {
  /** The ECR Public password it was issued for, checked again on every request (expiry, revocation). */
  password?: string;
  principal?: string;
  expiresAt: number;
}

const BEARER_LIFETIME_MS = 3600_000;
/** How a request with no principal is written in the records and judged by the policy. */
export const ANONYMOUS = 'anonymous';

export function createPublicRegistryFront(config: PublicFrontConfig, state: EmulatorState): Server {
  const bearers = new Map<string, Bearer>();
  const policy = publicRegistryPolicy();
  const challenge = (scope?: string) =>
    `Bearer realm="http://127.0.0.1:${config.port}/token/",service="${ECR_PUBLIC.host}",scope="${scope ?? 'aws'}"`;

  return createServer((req: IncomingMessage, res: ServerResponse) => {
    const method = req.method ?? 'GET';
    const url = new URL(req.url ?? '/', 'http://front');
    const record: RegistryRequestRecord = { at: Date.now(), registry: ECR_PUBLIC.host, method, path: url.pathname, status: 0, reason: '' };
    const done = (status: number, reason: string) => {
      record.status = status;
      record.reason = reason;
      state.record(state.registryRequests, record);
    };
    const answer = (status: number, reason: string, body: unknown, headers: Record<string, string> = {}) => {
      const text = JSON.stringify(body);
      req.resume();
      res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': String(Buffer.byteLength(text)), 'Docker-Distribution-Api-Version': 'registry/2.0', ...headers });
      res.end(text);
      done(status, reason);
    };
    const unauthorized = (reason: string, scope?: string) =>
      answer(401, reason, { errors: [{ code: 'UNAUTHORIZED', message: 'authentication required' }] }, { 'WWW-Authenticate': challenge(scope) });

    // The token endpoint: GET with Basic credentials (docker, skopeo), or an OAuth2 password grant
    // POSTed as a form (containerd, when it has credentials), answered with access_token too.
    const issue = (basic: { username: string; password: string } | undefined, oauth: boolean) => {
      let bearer: Bearer = { expiresAt: Date.now() + BEARER_LIFETIME_MS };
      if (basic) {
        const token = basic.username === 'AWS' ? state.tokens.lookup(basic.password) : undefined;
        if (token) record.principal = token.principal;
        const why = basic.username !== 'AWS' ? 'the user name is not AWS' : !token ? 'unknown token' : token.state !== 'valid' ? `token ${token.state}` : token.kind !== 'ecr-public' ? 'a private ECR token' : undefined;
        if (why) return answer(401, why, { errors: [{ code: 'DENIED', message: 'Not Authorized' }] });
        bearer = { password: basic.password, principal: token!.principal, expiresAt: Math.min(token!.expiresAt, bearer.expiresAt) };
      }
      const issued = randomBytes(32).toString('base64url');
      bearers.set(issued, bearer);
      for (const [key, b] of bearers) if (b.expiresAt <= Date.now()) bearers.delete(key);
      const expiresIn = Math.floor((bearer.expiresAt - Date.now()) / 1000);
      return answer(200, basic ? 'token issued' : 'anonymous token issued', oauth ? { access_token: issued, token: issued, expires_in: expiresIn } : { token: issued, expires_in: expiresIn });
    };
    if ((url.pathname === '/token/' || url.pathname === '/token') && method === 'POST') {
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (chunk: string) => (body += chunk));
      req.on('end', () => {
        const form = new URLSearchParams(body);
        if (form.get('grant_type') !== 'password') return answer(400, `grant_type ${form.get('grant_type')}`, { errors: [{ code: 'UNSUPPORTED', message: 'unsupported grant_type' }] });
        issue({ username: form.get('username') ?? '', password: form.get('password') ?? '' }, true);
      });
      return;
    }
    if (url.pathname === '/token/' || url.pathname === '/token') {
      const basic = parseBasic(req.headers.authorization);
      if (req.headers.authorization && !basic) return answer(401, 'credentials that are not Basic', { errors: [{ code: 'DENIED', message: 'Not Authorized' }] });
      return issue(basic, false);
    }
    if (!url.pathname.startsWith('/v2')) return answer(404, 'not a registry API path', { errors: [{ code: 'NOT_FOUND', message: '404 page not found' }] });

    const target = registryTarget(method, url.pathname);
    const scope = target.repository ? `repository:${target.repository}:${method === 'GET' || method === 'HEAD' ? 'pull' : 'pull,push'}` : undefined;
    const match = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '');
    if (!match) return unauthorized(req.headers.authorization ? 'credentials that are not a bearer token' : 'no bearer token', scope);
    const bearer = bearers.get(match[1]!);
    if (!bearer || bearer.expiresAt <= Date.now()) return unauthorized(bearer ? 'bearer token expired' : 'unknown bearer token', scope);
    record.principal = bearer.principal ?? ANONYMOUS;
    if (bearer.password) {
      const source = state.tokens.lookup(bearer.password);
      if (source?.state !== 'valid') return unauthorized(`token ${source?.state ?? 'unknown'}`, scope);
    }
    if (target.repository && target.action) {
      const action = target.action.replace(/^ecr:/, 'ecr-public:');
      record.repository = target.repository;
      record.action = action;
      if (evaluatePolicy(policy, record.principal, action) !== 'allow') {
        const message = `User: ${record.principal} is not authorized to perform: ${action} on resource: arn:aws:ecr-public::${ECR_PUBLIC.owner}:repository/${target.repository}`;
        return answer(403, 'implicit-deny', { errors: [{ code: 'DENIED', message }] });
      }
    }
    // The Host header goes through, so the registry's upload Location URLs point back here.
    res.on('finish', () => done(res.statusCode, 'allowed'));
    proxyRequest(req, res, { socketPath: config.backendSocket }, { dropHeaders: ['authorization'] });
  });
}
