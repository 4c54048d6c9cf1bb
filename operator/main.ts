// The only place real clients are built. Everything else takes them as interfaces.
import type { KubernetesObject } from '@kubernetes/client-node';
import { KIND, LOCAL_KIND, LOCAL_PLURAL, PLURAL } from './api/types.ts';
import { syncKey } from './core/sync-ref.ts';
import { hasEnvironmentWebIdentity } from './aws/credentials.ts';
import { SdkEcrTokenSource } from './aws/ecr-token-source.ts';
import { Manager } from './controller/manager.ts';
import { Reconciler } from './controller/reconciler.ts';
import { SharedTokenSource } from './controller/shared-tokens.ts';
import { KubeApi } from './kube/api-client.ts';
import { ClientGateway, syncPath } from './kube/client-gateway.ts';
import { loadConnection } from './kube/connection.ts';
import type { KubeGateway } from './kube/gateway.ts';
import { KubeServiceAccountTokens } from './kube/service-account-tokens.ts';
import { systemClock } from './runtime/clock.ts';
import { FlagError, type Flags, parseFlags, USAGE } from './runtime/flags.ts';
import { serveMetrics, serveProbes } from './runtime/http.ts';
import { LeaderElector } from './runtime/leader.ts';
import { createLogger, type Logger } from './runtime/log.ts';
import { PromMetrics } from './runtime/metrics.ts';

const SHUTDOWN_DRAIN_MS = 10_000;
const SHUTDOWN_RELEASE_MS = 3_000;

/** Resolves `ms` after the signal fires (never, until then). */
function afterAbort(signal: AbortSignal, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const start = () => setTimeout(resolve, ms).unref();
    if (signal.aborted) start();
    else signal.addEventListener('abort', start, { once: true });
  });
}

async function runOnce(flags: Flags, api: KubeApi, kube: KubeGateway, reconciler: Reconciler, log: Logger, signal: AbortSignal): Promise<number> {
  const list = (plural: string) => api.request<{ items: KubernetesObject[] }>(`list ${plural}`, 'GET', syncPath(plural));
  const [cluster, local] = await Promise.all([list(PLURAL), list(LOCAL_PLURAL)]);
  let failures = 0;
  for (const key of [...cluster.items, ...local.items].map(syncKey)) {
    if (!key) continue;
    const outcome = await reconciler.reconcile(key, signal);
    const after = await kube.getSync(key).catch(() => undefined);
    const ready = after?.status?.conditions?.find((c) => c.type === 'Ready');
    const ok = !outcome.error && (flags.dryRun || ready?.status === 'True');
    if (!ok) failures++;
    log.info({ sync: key, ok, reason: ready?.reason, err: outcome.error?.message }, 'reconciled once');
  }
  return failures === 0 ? 0 : 1;
}

async function main(argv: string[]): Promise<number> {
  let flags: Flags | 'help';
  try {
    flags = parseFlags(argv);
  } catch (error) {
    if (error instanceof FlagError) {
      process.stderr.write(`${error.message}\n\n${USAGE}`);
      return 2;
    }
    throw error;
  }
  if (flags === 'help') {
    process.stdout.write(USAGE);
    return 0;
  }
  const log = createLogger(flags.logLevel);
  const shutdown = new AbortController();
  const { signal } = shutdown;
  for (const sig of ['SIGTERM', 'SIGINT'] as const) {
    process.once(sig, () => {
      log.info({ signal: sig }, 'shutting down');
      shutdown.abort();
    });
  }

  const api = new KubeApi(await loadConnection());
  const metrics = new PromMetrics();
  const aws = new SdkEcrTokenSource({
    record: (api, result) => metrics.awsCall(api, result),
    serviceAccountTokens: new KubeServiceAccountTokens(api, { audiences: flags.tokenAudiences }),
    tokenDirs: flags.webIdentityTokenDirs,
    log: log.child({ module: 'aws-credentials' }),
  });
  const tokens = new SharedTokenSource(aws, systemClock, metrics);
  // The reconciler and the event routing judge syncs by the same allowlist and exclusion.
  const judging = { allowedHostnames: flags.allowedHostnames, selectorExcluded: flags.selectorExcludedNamespaces };
  const reconcilerOptions = {
    ...judging,
    minRefreshIntervalMs: flags.minRefreshIntervalMs,
    writeConcurrency: flags.writeConcurrency,
    backoff: { baseMs: flags.minFetchBackoffMs, maxMs: flags.maxFetchBackoffMs, permanentMs: flags.nonRetryableFetchBackoffMs },
    allowLocalOperatorIdentity: flags.allowLocalOperatorIdentity,
    // Without a web identity the operator's own is the SDK's default chain, whose principal STS names.
    ...(hasEnvironmentWebIdentity(process.env) ? { environmentRoleArn: process.env.AWS_ROLE_ARN! } : { operatorPrincipal: aws.operatorPrincipal() }),
  };
  const operatorIdentity = hasEnvironmentWebIdentity(process.env) ? `web identity ${process.env.AWS_ROLE_ARN}` : 'the AWS SDK default credential chain';
  log.info({ dryRun: flags.dryRun, once: flags.once, leaderElect: flags.leaderElect, cluster: api.server, operatorIdentity }, 'starting');

  if (flags.once) {
    const kube = new ClientGateway(api, {}, { dryRun: flags.dryRun });
    const reconciler = new Reconciler({ kube, tokens, clock: systemClock, metrics, log, options: reconcilerOptions });
    return runOnce(flags, api, kube, reconciler, log, signal);
  }

  const manager = new Manager(api, log, signal, { reconcileConcurrency: flags.reconcileConcurrency, maxBackoffMs: flags.maxBackoffMs, routing: judging });
  metrics.syncsFrom(() => ({ [KIND]: manager.syncs.informer.list(), [LOCAL_KIND]: manager.localSyncs.informer.list() }));
  const elector = flags.leaderElect
    ? new LeaderElector(api, { namespace: flags.leaderElectionNamespace, name: flags.leaderElectionId, identity: flags.leaderElectionIdentity }, log, metrics)
    : undefined;
  const kube = new ClientGateway(
    api,
    { namespaces: manager.namespaces.informer, secrets: manager.secrets.informer, serviceAccounts: manager.serviceAccounts.informer },
    { dryRun: flags.dryRun, ...(elector ? { mayWrite: () => elector.holdsFreshLease() } : {}) },
  );
  const reconciler = new Reconciler({ kube, tokens, clock: systemClock, metrics, log, options: reconcilerOptions });
  metrics.leader(!elector);

  const servers = await Promise.all([
    serveMetrics(metrics.registry, flags.metricsBindAddress),
    serveProbes(
      {
        healthy: () => true,
        // A standby is ready too (its caches are warm, it can take over at once), or a Deployment
        // rollout would wait forever on it; /readyz says which it is, /leaderz answers 503 on a standby.
        ready: () => {
          if (!manager.informersSynced()) return { ok: false, detail: 'caches not synced' };
          if (!elector) return { ok: true, detail: 'ok' };
          // Still ready (a rollout must not wait on it), but a standby that cannot reach its lease says why.
          const leaseError = elector.lastError();
          return { ok: true, detail: `${elector.isLeader() ? 'ok: leader' : 'ok: standby'}${leaseError ? `; lease error: ${leaseError.message}` : ''}` };
        },
        leader: () => !elector || elector.isLeader(),
      },
      flags.healthProbeBindAddress,
    ),
  ]);
  log.info({ metricsPort: servers[0]?.port, probePort: servers[1]?.port }, 'serving metrics and probes');

  let exitCode = 0;
  // Caches fill on every replica, leader or not, so a standby takes over with warm caches.
  const started = performance.now();
  await manager.startInformers();
  log.info({ ms: Math.round(performance.now() - started) }, 'caches synced');
  if (elector) {
    const leading = await elector.acquire(signal, () => {
      exitCode = 1;
      shutdown.abort();
    });
    if (leading) metrics.leader(true);
  }
  if (!signal.aborted) {
    log.info('reconciling');
    // In-flight reconciles finish their writes, but within a bound: a hung API server must not
    // turn a clean SIGTERM into a SIGKILL at the end of the grace period.
    await Promise.race([manager.run(reconciler), afterAbort(signal, SHUTDOWN_DRAIN_MS)]);
  }
  await Promise.race([elector?.release(), afterAbort(signal, SHUTDOWN_RELEASE_MS)]);
  await Promise.all(servers.map((s) => s && new Promise((resolve) => s.server.close(resolve))));
  log.info('stopped');
  return exitCode;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`fatal: ${(error as Error)?.stack ?? String(error)}\n`);
    process.exit(1);
  },
);
