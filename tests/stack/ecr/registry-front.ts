// A registry's front door, as ECR keeps it: Basic auth with an emulator-minted token, valid in
// the registry's region, and the registry's repository policy deciding each pull and push. What
// it allows streams through to the registry behind it (no auth of its own) on a unix socket.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { evaluatePolicy } from './policy.ts';
import { proxyRequest } from './proxy.ts';
import { awsRegistryHost, type EcrRegistryId, registryKey } from './registries.ts';
import type { EmulatorState, RegistryRequestRecord } from './state.ts';

export interface FrontConfig extends EcrRegistryId {
  port: number;
  backendSocket: string;
}

export interface RegistryTarget {
  repository?: string;
  /** The IAM action ECR checks for this request; none for the /v2/ ping and other repository-less paths. */
  action?: string;
}

const ROUTES: Array<[RegExp, Record<string, string>]> = [
  [/^\/v2\/(.+)\/manifests\/[^/]+$/, { GET: 'ecr:BatchGetImage', HEAD: 'ecr:BatchGetImage', PUT: 'ecr:PutImage', DELETE: 'ecr:BatchDeleteImage' }],
  [
    /^\/v2\/(.+)\/blobs\/uploads(?:\/[^/]*)?$/,
    { POST: 'ecr:InitiateLayerUpload', PATCH: 'ecr:UploadLayerPart', PUT: 'ecr:CompleteLayerUpload', GET: 'ecr:UploadLayerPart', DELETE: 'ecr:UploadLayerPart' },
  ],
  [/^\/v2\/(.+)\/blobs\/[^/]+$/, { GET: 'ecr:GetDownloadUrlForLayer', HEAD: 'ecr:BatchCheckLayerAvailability', DELETE: 'ecr:BatchDeleteImage' }],
  // ECR wants ecr:ListImages to list tags (skopeo inspect tolerates a 403 here).
  [/^\/v2\/(.+)\/tags\/list$/, { GET: 'ecr:ListImages' }],
];

/** Which repository a registry API request touches, and the action ECR authorizes it as. */
export function registryTarget(method: string, path: string): RegistryTarget {
  for (const [pattern, actions] of ROUTES) {
    const match = pattern.exec(path);
    if (match) return { repository: match[1]!, action: actions[method] ?? 'ecr:UnknownRegistryOperation' };
  }
  return {};
}

export function parseBasic(header: string | undefined): { username: string; password: string } | undefined {
  const match = /^Basic\s+(\S+)$/i.exec(header ?? '');
  if (!match) return undefined;
  const decoded = Buffer.from(match[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return colon < 0 ? undefined : { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

export function createRegistryFront(config: FrontConfig, state: EmulatorState): Server {
  const realm = `Basic realm="https://${awsRegistryHost(config)}/",service="ecr.amazonaws.com"`;
  const key = registryKey(config);

  return createServer((req: IncomingMessage, res: ServerResponse) => {
    const method = req.method ?? 'GET';
    const path = new URL(req.url ?? '/', 'http://front').pathname;
    const record: RegistryRequestRecord = { at: Date.now(), registry: key, method, path, status: 0, reason: '' };
    const done = (status: number, reason: string) => {
      record.status = status;
      record.reason = reason;
      state.record(state.registryRequests, record);
    };
    const unauthorized = (reason: string) => {
      req.resume();
      res.writeHead(401, { 'WWW-Authenticate': realm, 'Content-Type': 'text/plain; charset=utf-8', 'Docker-Distribution-Api-Version': 'registry/2.0' });
      res.end('Not Authorized\n');
      done(401, reason);
    };
    if (!path.startsWith('/v2')) {
      req.resume();
      res.writeHead(404, { 'Content-Type': 'text/plain' }).end('404 page not found\n');
      return done(404, 'not a registry API path');
    }
    const credentials = parseBasic(req.headers.authorization);
    if (!credentials) return unauthorized('no Basic credentials');
    if (credentials.username !== 'AWS') return unauthorized('the user name is not AWS');
    const token = state.tokens.lookup(credentials.password);
    if (!token) return unauthorized('unknown token');
    record.principal = token.principal;
    if (token.state !== 'valid') return unauthorized(`token ${token.state}`);
    if (token.kind !== 'ecr') return unauthorized('an ECR Public token');
    if (token.region !== config.region) return unauthorized(`token minted for ${token.region}`);

    const target = registryTarget(method, path);
    if (target.repository && target.action) {
      record.repository = target.repository;
      record.action = target.action;
      const decision = evaluatePolicy(state.policy(config), token.principal, target.action);
      if (decision !== 'allow') {
        const because = decision === 'explicit-deny' ? 'with an explicit deny in a resource-based policy' : `because no resource-based policy allows the ${target.action} action`;
        const message = `User: ${token.principal} is not authorized to perform: ${target.action} on resource: arn:aws:ecr:${config.region}:${config.account}:repository/${target.repository} ${because}`;
        const body = JSON.stringify({ errors: [{ code: 'DENIED', message }] });
        req.resume();
        res.writeHead(403, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(body), 'Docker-Distribution-Api-Version': 'registry/2.0' });
        res.end(body);
        return done(403, decision);
      }
    }
    // The Host header goes through, so the registry's upload Location URLs point back here.
    res.on('finish', () => done(res.statusCode, 'allowed'));
    proxyRequest(req, res, { socketPath: config.backendSocket }, { dropHeaders: ['authorization'] });
  });
}
