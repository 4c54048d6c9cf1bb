// Where the API server is and how to authenticate to it, found as client-go finds it: $KUBECONFIG,
// then ~/.kube/config, then the in-cluster ServiceAccount. Static credentials (bearer token, token
// file, client certificate) are handled here; a kubeconfig with an exec plugin or auth provider
// loads @kubernetes/client-node for that user alone, since importing it costs ~70 MiB RSS.
import { existsSync, readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { homedir } from 'node:os';
import { join } from 'node:path';

export interface Connection {
  readonly server: URL;
  /** One keep-alive agent for every request: a TLS handshake per connection, not per call. */
  readonly agent: http.Agent;
  /** Authorization (and other) headers for the next request. */
  headers(): Promise<Record<string, string>>;
  /** Where the configuration came from, for the start-up log line. */
  readonly source: string;
}

export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';
/** Bound ServiceAccount tokens are rotated by the kubelet; client-go re-reads its token file every minute. */
const TOKEN_FILE_TTL_MS = 60_000;
const MAX_SOCKETS = 32;

interface KubeconfigFile {
  'current-context'?: string;
  clusters?: { name: string; cluster?: Record<string, unknown> }[];
  users?: { name: string; user?: Record<string, unknown> }[];
  contexts?: { name: string; context?: { cluster?: string; user?: string } }[];
}

export class ConnectionError extends Error {
  override readonly name = 'ConnectionError';
}

export interface LoadOptions {
  env?: NodeJS.ProcessEnv;
  home?: string;
  serviceAccountDir?: string;
  /** A monotonic clock in ms, for the token file's age. */
  now?: () => number;
}

export async function loadConnection(options: LoadOptions = {}): Promise<Connection> {
  const env = options.env ?? process.env;
  const files = (env.KUBECONFIG ?? '').split(':').filter(Boolean);
  const home = join(options.home ?? homedir(), '.kube', 'config');
  if (files.length === 0 && existsSync(home)) files.push(home);
  const existing = files.filter((f) => existsSync(f));
  const now = options.now ?? (() => performance.now());
  if (existing.length > 0) return fromKubeconfig(await Promise.all(existing.map(readKubeconfig)), existing.join(':'), now);
  const dir = options.serviceAccountDir ?? SERVICE_ACCOUNT_DIR;
  if (env.KUBERNETES_SERVICE_HOST && existsSync(join(dir, 'token'))) return inCluster(env, dir, now);
  throw new ConnectionError('no Kubernetes configuration: set KUBECONFIG, write ~/.kube/config, or run in a pod with a ServiceAccount token');
}

function inCluster(env: NodeJS.ProcessEnv, dir: string, now: () => number): Connection {
  const host = env.KUBERNETES_SERVICE_HOST!;
  const server = new URL(`https://${host.includes(':') ? `[${host}]` : host}:${env.KUBERNETES_SERVICE_PORT ?? '443'}`);
  const agent = new https.Agent({ keepAlive: true, maxSockets: MAX_SOCKETS, ca: readFileSync(join(dir, 'ca.crt')) });
  return { server, agent, headers: tokenFileHeaders(join(dir, 'token'), now), source: 'in-cluster' };
}

async function readKubeconfig(file: string): Promise<KubeconfigFile> {
  const text = readFileSync(file, 'utf8');
  try {
    if (text.trimStart().startsWith('{')) return JSON.parse(text) as KubeconfigFile;
    const yaml = await import('js-yaml');
    return (yaml.load(text) ?? {}) as KubeconfigFile;
  } catch (error) {
    throw new ConnectionError(`kubeconfig ${file}: ${(error as Error).message}`, { cause: error });
  }
}

/** Merged as client-go merges files: the first file that sets a name or the current context wins. */
function fromKubeconfig(configs: KubeconfigFile[], source: string, now: () => number): Promise<Connection> | Connection {
  const first = <T extends { name: string }>(pick: (c: KubeconfigFile) => T[] | undefined, name: string | undefined) =>
    name === undefined ? undefined : configs.flatMap((c) => pick(c) ?? []).find((e) => e.name === name);
  const contextName = configs.map((c) => c['current-context']).find(Boolean);
  const context = first((c) => c.contexts, contextName)?.context;
  if (!context) throw new ConnectionError(`kubeconfig ${source}: no current context${contextName ? ` named "${contextName}"` : ''}`);
  const cluster = first((c) => c.clusters, context.cluster)?.cluster;
  if (!cluster?.server) throw new ConnectionError(`kubeconfig ${source}: context "${contextName}" names no cluster with a server`);
  const user = first((c) => c.users, context.user)?.user ?? {};
  if (cluster['proxy-url']) throw new ConnectionError(`kubeconfig ${source}: proxy-url is not supported; the operator talks to the API server directly`);
  if (user.exec || user['auth-provider'] || user.username) return viaClientNode(source);
  const server = new URL(String(cluster.server));
  const bytes = (data: unknown, file: unknown) =>
    typeof data === 'string' ? Buffer.from(data, 'base64') : typeof file === 'string' ? readFileSync(file) : undefined;
  const tls: https.AgentOptions = {
    keepAlive: true,
    maxSockets: MAX_SOCKETS,
    ca: bytes(cluster['certificate-authority-data'], cluster['certificate-authority']),
    cert: bytes(user['client-certificate-data'], user['client-certificate']),
    key: bytes(user['client-key-data'], user['client-key']),
    ...(cluster['insecure-skip-tls-verify'] === true ? { rejectUnauthorized: false } : {}),
    ...(typeof cluster['tls-server-name'] === 'string' ? { servername: cluster['tls-server-name'] } : {}),
  };
  const agent = server.protocol === 'https:' ? new https.Agent(tls) : new http.Agent({ keepAlive: true, maxSockets: MAX_SOCKETS });
  const headers =
    typeof user.token === 'string' && user.token
      ? staticHeaders({ authorization: `Bearer ${user.token}` })
      : typeof user.tokenFile === 'string'
        ? tokenFileHeaders(user.tokenFile, now)
        : staticHeaders({});
  return { server, agent, headers, source };
}

function staticHeaders(headers: Record<string, string>): () => Promise<Record<string, string>> {
  return async () => headers;
}

function tokenFileHeaders(file: string, now: () => number): () => Promise<Record<string, string>> {
  let cached = { token: '', at: -Infinity };
  return async () => {
    const at = now();
    if (at - cached.at > TOKEN_FILE_TTL_MS) cached = { token: readFileSync(file, 'utf8').trim(), at };
    return { authorization: `Bearer ${cached.token}` };
  };
}

/** Exec plugins (aws eks get-token), auth providers, basic auth and proxies: client-node does these well. */
async function viaClientNode(source: string): Promise<Connection> {
  const { KubeConfig } = await import('@kubernetes/client-node');
  const kc = new KubeConfig();
  kc.loadFromDefault();
  const server = new URL(kc.getCurrentCluster()!.server);
  const probe: https.RequestOptions = {};
  await kc.applyToHTTPSOptions(probe);
  const agent = new https.Agent({ keepAlive: true, maxSockets: MAX_SOCKETS, ca: probe.ca, cert: probe.cert, key: probe.key, ...(probe.rejectUnauthorized === false ? { rejectUnauthorized: false } : {}) });
  const headers = async () => {
    const options: https.RequestOptions = {};
    await kc.applyToHTTPSOptions(options);
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(options.headers ?? {})) if (v !== undefined) out[k.toLowerCase()] = String(v);
    if (options.auth) out.authorization = `Basic ${Buffer.from(options.auth).toString('base64')}`;
    return out;
  };
  return { server, agent, headers, source: `${source} (via @kubernetes/client-node for its auth plugin)` };
}
