// Where the API server is and how to authenticate to it, found as client-go finds it: $KUBECONFIG,
// then ~/.kube/config, then the in-cluster ServiceAccount. Static credentials (bearer token, token
// file, client certificate) are handled here; a kubeconfig with an exec plugin or auth provider
// loads @kubernetes/client-node for that user alone, since importing it costs ~70 MiB RSS.
import { existsSync, readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { homedir } from 'node:os';
import { dirname, isAbsolute, join, resolve } from 'node:path';

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
/**
 * As client-go, no cap on connections per host: watches hold five for good, and a lease renewal
 * must never queue behind a burst of secret writes. Idle ones close before the API server's 90 s.
 */
const AGENT_OPTIONS = { keepAlive: true, maxSockets: Infinity, timeout: 60_000 } as const;

interface KubeconfigFile {
  /** The file it was read from: relative paths in it are relative to its directory. */
  file?: string;
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
  const agent = new https.Agent({ ...AGENT_OPTIONS, ca: readFileSync(join(dir, 'ca.crt')) });
  return { server, agent, headers: tokenFileHeaders(join(dir, 'token'), now), source: 'in-cluster' };
}

async function readKubeconfig(file: string): Promise<KubeconfigFile> {
  const text = readFileSync(file, 'utf8');
  try {
    const parsed = text.trimStart().startsWith('{') ? JSON.parse(text) : ((await import('js-yaml')).load(text) ?? {});
    return { ...(parsed as KubeconfigFile), file };
  } catch (error) {
    throw new ConnectionError(`kubeconfig ${file}: ${(error as Error).message}`, { cause: error });
  }
}

/** Merged as client-go merges files: the first file that sets a name or the current context wins. */
function fromKubeconfig(configs: KubeconfigFile[], source: string, now: () => number): Promise<Connection> | Connection {
  /** The first entry of that name, with the directory of the file it came from. */
  const first = <T extends { name: string }>(pick: (c: KubeconfigFile) => T[] | undefined, name: string | undefined) => {
    for (const config of configs) {
      const entry = name === undefined ? undefined : pick(config)?.find((e) => e.name === name);
      if (entry) return { entry, dir: dirname(config.file ?? '.') };
    }
    return undefined;
  };
  const contextName = configs.map((c) => c['current-context']).find(Boolean);
  const context = first((c) => c.contexts, contextName)?.entry.context;
  if (!context) throw new ConnectionError(`kubeconfig ${source}: no current context${contextName ? ` named "${contextName}"` : ''}`);
  const clusterEntry = first((c) => c.clusters, context.cluster);
  const cluster = clusterEntry?.entry.cluster;
  if (!cluster?.server) throw new ConnectionError(`kubeconfig ${source}: context "${contextName}" names no cluster with a server`);
  const userEntry = first((c) => c.users, context.user);
  const user = userEntry?.entry.user ?? {};
  if (cluster['proxy-url']) throw new ConnectionError(`kubeconfig ${source}: proxy-url is not supported; the operator talks to the API server directly`);
  // Exec plugins, auth providers, basic auth and impersonation (as, as-groups): client-node's.
  if (user.exec || user['auth-provider'] || user.username || user.as || user['as-groups'] || user['as-uid']) return viaClientNode(source);
  const server = new URL(String(cluster.server));
  // As client-go resolves them: relative to the file that named them.
  const read = (file: string, dir: string) => {
    try {
      return readFileSync(isAbsolute(file) ? file : resolve(dir, file));
    } catch (error) {
      throw new ConnectionError(`kubeconfig ${source}: ${(error as Error).message}`, { cause: error });
    }
  };
  const bytes = (data: unknown, file: unknown, dir = '.') =>
    typeof data === 'string' ? Buffer.from(data, 'base64') : typeof file === 'string' ? read(file, dir) : undefined;
  const clusterDir = clusterEntry!.dir;
  const userDir = userEntry?.dir ?? '.';
  const tls: https.AgentOptions = {
    ...AGENT_OPTIONS,
    ca: bytes(cluster['certificate-authority-data'], cluster['certificate-authority'], clusterDir),
    cert: bytes(user['client-certificate-data'], user['client-certificate'], userDir),
    key: bytes(user['client-key-data'], user['client-key'], userDir),
    ...(cluster['insecure-skip-tls-verify'] === true ? { rejectUnauthorized: false } : {}),
    ...(typeof cluster['tls-server-name'] === 'string' ? { servername: cluster['tls-server-name'] } : {}),
  };
  const agent = server.protocol === 'https:' ? new https.Agent(tls) : new http.Agent(AGENT_OPTIONS);
  const headers =
    typeof user.token === 'string' && user.token
      ? staticHeaders({ authorization: `Bearer ${user.token}` })
      : typeof user.tokenFile === 'string'
        ? tokenFileHeaders(isAbsolute(user.tokenFile) ? user.tokenFile : resolve(userDir, user.tokenFile), now)
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
  const agent = new https.Agent({
    ...AGENT_OPTIONS,
    ca: probe.ca,
    cert: probe.cert,
    key: probe.key,
    ...(probe.servername ? { servername: probe.servername } : {}),
    ...(probe.rejectUnauthorized === false ? { rejectUnauthorized: false } : {}),
  });
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
