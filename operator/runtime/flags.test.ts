import { hostname } from 'node:os';
import { FlagError, parseFlags } from './flags.ts';

describe('parseFlags', () => {
  it('without flags, takes controller-runtime style defaults', () => {
    expect(parseFlags([], {})).toEqual({
      metricsBindAddress: ':8080',
      healthProbeBindAddress: ':8081',
      leaderElect: false,
      leaderElectionNamespace: 'ecr-credential-sync',
      leaderElectionId: 'ecr-credential-sync',
      leaderElectionIdentity: `${hostname()}_${process.pid}`,
      logLevel: 'info',
      once: false,
      dryRun: false,
      minRefreshIntervalMs: 300_000,
      writeConcurrency: 16,
      reconcileConcurrency: 4,
      maxBackoffMs: 30_000,
      minFetchBackoffMs: 10_000,
      maxFetchBackoffMs: 300_000,
      nonRetryableFetchBackoffMs: 600_000,
      webIdentityTokenDirs: ['/var/run/secrets/eks.amazonaws.com/serviceaccount', '/var/run/secrets/openshift/serviceaccount'],
      tokenAudiences: ['sts.amazonaws.com', 'openshift'],
      allowLocalOperatorIdentity: false,
      allowedHostnames: [],
      selectorExcludedNamespaces: ['kube-system', 'kube-public', 'kube-node-lease', 'openshift', 'openshift-*', 'ecr-credential-sync'],
    });
  });

  it('takes the lease namespace and identity from the pod environment', () => {
    const flags = parseFlags([], { POD_NAMESPACE: 'ops', POD_NAME: 'ecr-credential-sync-abc' });
    expect(flags).toMatchObject({ leaderElectionNamespace: 'ops', leaderElectionIdentity: `ecr-credential-sync-abc_${process.pid}` });
  });

  it('excludes the operator\'s own namespace, from the pod environment, from selectors by default', () => {
    const flags = parseFlags([], { POD_NAMESPACE: 'ops' });
    expect(flags).toMatchObject({ selectorExcludedNamespaces: ['kube-system', 'kube-public', 'kube-node-lease', 'openshift', 'openshift-*', 'ops'] });
  });

  it.each<[string, string[], Record<string, unknown>]>([
    ['--leader-elect turns leader election on', ['--leader-elect'], { leaderElect: true }],
    ['--allow-local-operator-identity lets local syncs use the operator identity', ['--allow-local-operator-identity'], { allowLocalOperatorIdentity: true }],
    ['--once and --dry-run are switches', ['--once', '--dry-run'], { once: true, dryRun: true }],
    ['bind addresses may be given with =', ['--metrics-bind-address=0', '--health-probe-bind-address=127.0.0.1:9000'], { metricsBindAddress: '0', healthProbeBindAddress: '127.0.0.1:9000' }],
    ['a lease namespace flag beats the environment', ['--leader-election-namespace', 'elsewhere'], { leaderElectionNamespace: 'elsewhere' }],
    ['--min-refresh-interval reads a duration', ['--min-refresh-interval', '90s'], { minRefreshIntervalMs: 90_000 }],
    ['--min-refresh-interval accepts exactly one second', ['--min-refresh-interval', '1s'], { minRefreshIntervalMs: 1000 }],
    ['concurrencies read whole numbers', ['--write-concurrency', '256', '--reconcile-concurrency', '1'], { writeConcurrency: 256, reconcileConcurrency: 1 }],
    ['the fetch backoffs read durations', ['--min-fetch-backoff=1s', '--max-fetch-backoff', '2m', '--non-retryable-fetch-backoff=1h'], { minFetchBackoffMs: 1000, maxFetchBackoffMs: 120_000, nonRetryableFetchBackoffMs: 3_600_000 }],
    ['--web-identity-token-dirs reads a comma-separated list', ['--web-identity-token-dirs', '/a, /b/c'], { webIdentityTokenDirs: ['/a', '/b/c'] }],
    ['--token-audiences reads a comma-separated list', ['--token-audiences=sts.amazonaws.com'], { tokenAudiences: ['sts.amazonaws.com'] }],
    ['every log level pino knows is accepted', ['--log-level', 'silent'], { logLevel: 'silent' }],
    ['--allowed-hostnames reads comma-separated host patterns, lower-cased', ['--allowed-hostnames', '127.0.0.1, *.Mirror.corp:5000'], { allowedHostnames: ['127.0.0.1', '*.mirror.corp:5000'] }],
    ['--selector-excluded-namespaces replaces the whole default list', ['--selector-excluded-namespaces=kube-*,infra'], { selectorExcludedNamespaces: ['kube-*', 'infra'] }],
    ['an empty --selector-excluded-namespaces excludes nothing', ['--selector-excluded-namespaces='], { selectorExcludedNamespaces: [] }],
  ])('%s', (_name, argv, expected) => {
    expect(parseFlags(argv, { POD_NAMESPACE: 'ops' })).toMatchObject(expected);
  });

  it('--help asks for the usage text', () => {
    expect(parseFlags(['--help'], {})).toBe('help');
  });

  it.each<[string, string[], RegExp]>([
    ['an unknown flag', ['--verbose'], /verbose/],
    ['a positional argument', ['run'], /run/],
    ['a string flag without its value', ['--write-concurrency'], /write-concurrency/],
    ['a value for a switch', ['--once=yes'], /once/],
    ['an unknown log level', ['--log-level', 'loud'], /--log-level: unknown level "loud"/],
    ['a min refresh interval that is not a duration', ['--min-refresh-interval', '5'], /--min-refresh-interval must be a duration of at least 1s/],
    ['a min refresh interval under a second', ['--min-refresh-interval', '500ms'], /--min-refresh-interval must be a duration of at least 1s/],
    ['a write concurrency of zero', ['--write-concurrency', '0'], /--write-concurrency must be a whole number from 1 to 256/],
    ['a write concurrency over 256', ['--write-concurrency', '257'], /--write-concurrency must be a whole number from 1 to 256/],
    ['a fractional reconcile concurrency', ['--reconcile-concurrency', '1.5'], /--reconcile-concurrency must be a whole number/],
    ['a reconcile concurrency that is a word', ['--reconcile-concurrency', 'four'], /--reconcile-concurrency must be a whole number/],
    ['a fetch backoff under a second', ['--max-fetch-backoff', '500ms'], /--max-fetch-backoff must be a duration of at least 1s/],
    ['a fetch backoff cap below its start', ['--min-fetch-backoff', '1m', '--max-fetch-backoff', '30s'], /--max-fetch-backoff must not be shorter than --min-fetch-backoff/],
    ['a non-retryable fetch backoff that is not a duration', ['--non-retryable-fetch-backoff', 'long'], /--non-retryable-fetch-backoff must be a duration/],
    ['a relative token directory', ['--web-identity-token-dirs', '/ok,tokens'], /--web-identity-token-dirs: "tokens" is not an absolute path/],
    ['an empty audience list', ['--token-audiences', ' , '], /--token-audiences must name at least one audience/],
    ['an empty concurrency', ['--reconcile-concurrency='], /--reconcile-concurrency must be a whole number/],
    ['an allowed hostname with a scheme', ['--allowed-hostnames', 'https://mirror.corp'], /--allowed-hostnames: "https:\/\/mirror.corp" is not a pattern such as 127.0.0.1/],
    ['an allowed hostname with a path', ['--allowed-hostnames', 'mirror.corp/v2'], /--allowed-hostnames: "mirror.corp\/v2" is not a pattern/],
    ['an excluded namespace that cannot be a namespace name', ['--selector-excluded-namespaces', 'kube_system'], /--selector-excluded-namespaces: "kube_system" is not a pattern such as kube-system/],
  ])('rejects %s', (_name, argv, message) => {
    expect(() => parseFlags(argv, {})).toThrow(FlagError);
    expect(() => parseFlags(argv, {})).toThrow(message);
  });
});
