// Command-line flags, named as controller-runtime names them.
import { hostname } from 'node:os';
import { parseArgs } from 'node:util';
import { parseDuration } from '../core/duration.ts';
import { isHostPattern } from '../core/hostnames.ts';
import { DEFAULT_SELECTOR_EXCLUDED_NAMESPACES } from '../core/namespaces.ts';
import { DEFAULT_TOKEN_DIRS } from '../core/token-file.ts';

export interface Flags {
  metricsBindAddress: string;
  healthProbeBindAddress: string;
  leaderElect: boolean;
  leaderElectionNamespace: string;
  leaderElectionId: string;
  leaderElectionIdentity: string;
  logLevel: string;
  once: boolean;
  dryRun: boolean;
  minRefreshIntervalMs: number;
  writeConcurrency: number;
  reconcileConcurrency: number;
  maxBackoffMs: number;
  minFetchBackoffMs: number;
  maxFetchBackoffMs: number;
  nonRetryableFetchBackoffMs: number;
  webIdentityTokenDirs: string[];
  tokenAudiences: string[];
  allowLocalOperatorIdentity: boolean;
  allowedHostnames: string[];
  selectorExcludedNamespaces: string[];
}

export const USAGE = `Usage: ecr-credential-sync [flags]

  --metrics-bind-address ADDR       serve /metrics here (default ":8080"; "0" disables)
  --health-probe-bind-address ADDR  serve /healthz and /readyz here (default ":8081"; "0" disables)
  --leader-elect                    run as one of several replicas, leading by a Lease
  --leader-election-namespace NS    the Lease's namespace (default: POD_NAMESPACE or ecr-credential-sync)
  --leader-election-id NAME         the Lease's name (default "ecr-credential-sync")
  --log-level LEVEL                 trace, debug, info, warn, error, fatal, silent (default "info")
  --once                            reconcile every EcrCredentialSync once, then exit (non-zero on failure)
  --dry-run                         compute and report, write nothing (server-side dry run)
  --min-refresh-interval DURATION   floor between token refreshes when an expiry is past or too near (default "5m")
  --write-concurrency N             secret writes in flight per sync (default 16)
  --reconcile-concurrency N         syncs reconciled at once (default 4)
  --max-backoff DURATION            cap on the exponential retry delay after a failed Kubernetes write (default "30s")
  --min-fetch-backoff DURATION      the first delay after a failed token fetch that retrying may cure; it doubles
                                    per failure (default "10s")
  --max-fetch-backoff DURATION      cap on that delay (default "5m")
  --non-retryable-fetch-backoff DURATION
                                    the delay after a fetch failure that retrying cannot cure, such as
                                    AccessDenied or a missing ServiceAccount; a spec change ends it (default "10m")
  --web-identity-token-dirs DIRS    comma-separated directories a spec's webIdentity.tokenFile may be in (default
                                    the EKS and OpenShift token mounts; the directory of AWS_WEB_IDENTITY_TOKEN_FILE is added)
  --token-audiences LIST            comma-separated audiences ServiceAccount tokens may be minted for
                                    (default "sts.amazonaws.com,openshift")
  --allow-local-operator-identity   let a LocalEcrCredentialSync without identity.serviceAccountRef use the
                                    operator's own AWS identity (default off: each team brings its ServiceAccount)
  --allowed-hostnames PATTERNS      comma-separated host globs (* and ?) that spec.registries[].hostnames may name
                                    besides ECR's own domains (*.amazonaws.com, *.amazonaws.com.cn, *.dkr-ecr[-fips].*.on.aws);
                                    a pattern without a port allows any port: "127.0.0.1", "mirror.corp:5000"
                                    (default none: ECR hosts only; other hosts make the sync InvalidSpec)
  --selector-excluded-namespaces PATTERNS
                                    comma-separated namespace globs that namespaces.selector never matches;
                                    namespaces.names still reaches them; "" excludes none (default
                                    "kube-system,kube-public,kube-node-lease,openshift,openshift-*" and the
                                    operator's own namespace, POD_NAMESPACE or ecr-credential-sync)
  --help                            this text
`;

export class FlagError extends Error {}

/** A namespace name glob, as namespaces.exclude takes them. */
const NAMESPACE_PATTERN = /^[a-z0-9*?-]+$/;

export function parseFlags(argv: string[], env: NodeJS.ProcessEnv = process.env): Flags | 'help' {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      strict: true,
      options: {
        'metrics-bind-address': { type: 'string', default: ':8080' },
        'health-probe-bind-address': { type: 'string', default: ':8081' },
        'leader-elect': { type: 'boolean', default: false },
        'leader-election-namespace': { type: 'string', default: env.POD_NAMESPACE ?? 'ecr-credential-sync' },
        'leader-election-id': { type: 'string', default: 'ecr-credential-sync' },
        'log-level': { type: 'string', default: 'info' },
        once: { type: 'boolean', default: false },
        'dry-run': { type: 'boolean', default: false },
        'min-refresh-interval': { type: 'string', default: '5m' },
        'write-concurrency': { type: 'string', default: '16' },
        'reconcile-concurrency': { type: 'string', default: '4' },
        'max-backoff': { type: 'string', default: '30s' },
        'min-fetch-backoff': { type: 'string', default: '10s' },
        'max-fetch-backoff': { type: 'string', default: '5m' },
        'non-retryable-fetch-backoff': { type: 'string', default: '10m' },
        'web-identity-token-dirs': { type: 'string', default: DEFAULT_TOKEN_DIRS.join(',') },
        'token-audiences': { type: 'string', default: 'sts.amazonaws.com,openshift' },
        'allow-local-operator-identity': { type: 'boolean', default: false },
        'allowed-hostnames': { type: 'string', default: '' },
        'selector-excluded-namespaces': { type: 'string', default: [...DEFAULT_SELECTOR_EXCLUDED_NAMESPACES, env.POD_NAMESPACE ?? 'ecr-credential-sync'].join(',') },
        help: { type: 'boolean', default: false },
      },
    }).values;
  } catch (error) {
    throw new FlagError((error as Error).message);
  }
  if (parsed.help) return 'help';
  const level = parsed['log-level']!;
  if (!['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'].includes(level)) throw new FlagError(`--log-level: unknown level "${level}"`);
  const minRefresh = parseDuration(parsed['min-refresh-interval']!);
  if (minRefresh === undefined || minRefresh < 1000) throw new FlagError('--min-refresh-interval must be a duration of at least 1s, such as 5m');
  const maxBackoff = parseDuration(parsed['max-backoff']!);
  if (maxBackoff === undefined || maxBackoff < 1000) throw new FlagError('--max-backoff must be a duration of at least 1s, such as 30s');
  const fetchBackoff = (name: 'min-fetch-backoff' | 'max-fetch-backoff' | 'non-retryable-fetch-backoff') => {
    const ms = parseDuration(parsed[name]!);
    if (ms === undefined || ms < 1000) throw new FlagError(`--${name} must be a duration of at least 1s, such as 5m`);
    return ms;
  };
  const minFetchBackoff = fetchBackoff('min-fetch-backoff');
  const maxFetchBackoff = fetchBackoff('max-fetch-backoff');
  if (maxFetchBackoff < minFetchBackoff) throw new FlagError('--max-fetch-backoff must not be shorter than --min-fetch-backoff');
  const tokenDirs = (value: string) => {
    const dirs = value.split(',').map((d) => d.trim()).filter(Boolean);
    const relative = dirs.find((d) => !d.startsWith('/'));
    if (relative) throw new FlagError(`--web-identity-token-dirs: "${relative}" is not an absolute path`);
    return dirs;
  };
  const audiences = (value: string) => {
    const list = value.split(',').map((a) => a.trim()).filter(Boolean);
    if (list.length === 0) throw new FlagError('--token-audiences must name at least one audience');
    return list;
  };
  const patterns = (name: 'allowed-hostnames' | 'selector-excluded-namespaces', valid: (p: string) => boolean, example: string) => {
    const list = parsed[name]!.split(',').map((p) => p.trim().toLowerCase()).filter(Boolean);
    const bad = list.find((p) => !valid(p));
    if (bad !== undefined) throw new FlagError(`--${name}: "${bad}" is not a pattern such as ${example}`);
    return list;
  };
  const positive = (name: 'write-concurrency' | 'reconcile-concurrency') => {
    const n = Number(parsed[name]);
    if (!Number.isInteger(n) || n < 1 || n > 256) throw new FlagError(`--${name} must be a whole number from 1 to 256`);
    return n;
  };
  return {
    metricsBindAddress: parsed['metrics-bind-address']!,
    healthProbeBindAddress: parsed['health-probe-bind-address']!,
    leaderElect: parsed['leader-elect']!,
    leaderElectionNamespace: parsed['leader-election-namespace']!,
    leaderElectionId: parsed['leader-election-id']!,
    leaderElectionIdentity: `${env.POD_NAME ?? hostname()}_${process.pid}`,
    logLevel: level,
    once: parsed.once!,
    dryRun: parsed['dry-run']!,
    minRefreshIntervalMs: minRefresh,
    writeConcurrency: positive('write-concurrency'),
    reconcileConcurrency: positive('reconcile-concurrency'),
    maxBackoffMs: maxBackoff,
    minFetchBackoffMs: minFetchBackoff,
    maxFetchBackoffMs: maxFetchBackoff,
    nonRetryableFetchBackoffMs: fetchBackoff('non-retryable-fetch-backoff'),
    webIdentityTokenDirs: tokenDirs(parsed['web-identity-token-dirs']!),
    tokenAudiences: audiences(parsed['token-audiences']!),
    allowLocalOperatorIdentity: parsed['allow-local-operator-identity']!,
    allowedHostnames: patterns('allowed-hostnames', isHostPattern, '127.0.0.1, *.mirror.corp or mirror.corp:5000'),
    selectorExcludedNamespaces: patterns('selector-excluded-namespaces', (p) => NAMESPACE_PATTERN.test(p), 'kube-system or openshift-*'),
  };
}
