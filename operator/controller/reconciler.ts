// reconcile(name): read the sync and the world, converge, report. Level-triggered: it takes
// no event, and running it twice in a row writes nothing the second time. It orchestrates the
// token cache (which tokens), the secret writer (which writes), the ServiceAccount sync and the
// status reporter; the policies they follow are pure functions in core/.
import type { BackoffStatus, EcrCredentialSync } from '../api/types.ts';
import { DEFAULT_SECRET_NAME, EventReason, FINALIZER, Reason } from '../api/constants.ts';
import type { OperatorPrincipal } from '../aws/caller-identity.ts';
import type { EcrTokenSource, TokenFetchError } from '../aws/token-source.ts';
import { type BackoffPolicy, DEFAULT_BACKOFF, holdUntil, nextBackoff } from '../core/backoff.ts';
import { desiredSecrets } from '../core/desired.ts';
import { DEFAULT_SELECTOR_EXCLUDED_NAMESPACES, targetNamespaces } from '../core/namespaces.ts';
import { type ActualSecret, isOwnSecret, plan } from '../core/plan.ts';
import { DEFAULT_MIN_REFRESH_INTERVAL_MS, nextRefreshAt } from '../core/schedule.ts';
import { buildStatus, iso, type NamespaceOutcome } from '../core/status.ts';
import { localProblems } from '../core/local-sync.ts';
import { keyOf } from '../core/sync-ref.ts';
import { validateSpec } from '../core/validate.ts';
import { KubeError, type KubeGateway } from '../kube/gateway.ts';
import type { Clock } from '../runtime/clock.ts';
import type { Logger } from '../runtime/log.ts';
import type { Metrics } from '../runtime/metrics.ts';
import { syncServiceAccounts } from './account-sync.ts';
import { SecretWriter } from './secret-writer.ts';
import { StatusReporter } from './status-reporter.ts';
import { TokenCache } from './token-cache.ts';

export interface ReconcilerOptions {
  minRefreshIntervalMs?: number;
  writeConcurrency?: number;
  /** The operator's own role (AWS_ROLE_ARN) when it has a web identity; unset when its identity is the SDK's default chain. */
  environmentRoleArn?: string;
  /** Who the SDK's default chain is, asked of STS, when the operator has no web identity. */
  operatorPrincipal?: OperatorPrincipal;
  /** How long failed token fetches keep a sync from calling AWS again. */
  backoff?: BackoffPolicy;
  /** Whether a LocalEcrCredentialSync without a ServiceAccount may use the operator's own identity. */
  allowLocalOperatorIdentity?: boolean;
  /** Host globs extra hostnames may match besides ECR's own domains (--allowed-hostnames). */
  allowedHostnames?: readonly string[];
  /** Namespaces no selector reaches (--selector-excluded-namespaces); by default DEFAULT_SELECTOR_EXCLUDED_NAMESPACES. */
  selectorExcluded?: readonly string[];
}

export interface ReconcileOutcome {
  /** Run again after this long even if nothing changes (the next token refresh, or the end of a backoff). */
  requeueAfterMs?: number;
  /** Failed; without requeueAfterMs the queue backs off by the error's retry class. */
  error?: Error;
}

export interface ReconcilerDeps {
  kube: KubeGateway;
  tokens: EcrTokenSource;
  clock: Clock;
  metrics: Metrics;
  log: Logger;
  options?: ReconcilerOptions;
}

/** A conflicting secret may be removed by its owner without any event we watch: look again this soon. */
const CONFLICT_RECHECK_MS = 60_000;

export class Reconciler {
  private readonly kube: KubeGateway;
  private readonly clock: Clock;
  private readonly metrics: Metrics;
  private readonly log: Logger;
  private readonly minRefreshIntervalMs: number;
  private readonly writeConcurrency: number;
  private readonly backoff: BackoffPolicy;
  private readonly allowLocalOperatorIdentity: boolean;
  private readonly allowedHostnames: readonly string[];
  private readonly selectorExcluded: readonly string[];
  private readonly tokenCache: TokenCache;
  private readonly writer: SecretWriter;
  private readonly reporter: StatusReporter;
  /** Syncs a reconcile just forgot: its own metric must not bring their series back. */
  private readonly forgotten = new Set<string>();
  /**
   * The last backoff of each failing sync, as it was to be written: the hold lasts even when the
   * status write failed or an old CRD pruned status.backoff.
   */
  private readonly backoffs = new Map<string, BackoffStatus>();

  constructor(deps: ReconcilerDeps) {
    const { kube, clock, metrics, log, options } = deps;
    this.kube = kube;
    this.clock = clock;
    this.metrics = metrics;
    this.log = log;
    this.minRefreshIntervalMs = options?.minRefreshIntervalMs ?? DEFAULT_MIN_REFRESH_INTERVAL_MS;
    this.writeConcurrency = options?.writeConcurrency ?? 16;
    this.backoff = options?.backoff ?? DEFAULT_BACKOFF;
    this.allowLocalOperatorIdentity = options?.allowLocalOperatorIdentity ?? false;
    this.allowedHostnames = options?.allowedHostnames ?? [];
    this.selectorExcluded = options?.selectorExcluded ?? DEFAULT_SELECTOR_EXCLUDED_NAMESPACES;
    this.tokenCache = new TokenCache({ kube, tokens: deps.tokens, metrics, environmentRoleArn: options?.environmentRoleArn, operatorPrincipal: options?.operatorPrincipal });
    this.writer = new SecretWriter({ kube, clock, metrics, writeConcurrency: this.writeConcurrency });
    this.reporter = new StatusReporter({ kube, metrics, log });
  }

  /** @param key the sync's key (core/sync-ref.ts): its name, or namespace/name for a LocalEcrCredentialSync */
  forget(key: string): void {
    this.forgotten.add(key);
    this.backoffs.delete(key);
    this.tokenCache.forget(key);
    this.writer.forget(key);
    this.metrics.syncForgotten(key);
  }

  /** @param name the sync's key (core/sync-ref.ts): its name, or namespace/name for a LocalEcrCredentialSync */
  async reconcile(name: string, signal?: AbortSignal): Promise<ReconcileOutcome> {
    const started = performance.now();
    let outcome: ReconcileOutcome;
    try {
      outcome = await this.reconcileOnce(name, signal);
    } catch (error) {
      outcome = { error: error as Error };
    }
    if (!this.forgotten.delete(name)) this.metrics.reconciled(name, outcome.error ? 'error' : 'success', (performance.now() - started) / 1000);
    return outcome;
  }

  private async reconcileOnce(name: string, signal?: AbortSignal): Promise<ReconcileOutcome> {
    const sync = await this.kube.getSync(name);
    if (!sync) {
      this.forget(name);
      return {};
    }
    const log = this.log.child({ sync: name, generation: sync.metadata.generation });
    if (sync.metadata.deletionTimestamp) return this.finalize(sync, log);
    if (!sync.metadata.finalizers?.includes(FINALIZER)) {
      await this.kube.setFinalizers(sync, [...(sync.metadata.finalizers ?? []), FINALIZER]);
    }
    const now = this.clock.now();
    const lastRefresh = sync.status?.lastRefreshTime ? { lastRefreshTime: sync.status.lastRefreshTime } : {};

    const invalid = [
      ...validateSpec(sync.spec, { allowedHostnames: this.allowedHostnames }),
      ...localProblems(sync, { allowOperatorIdentity: this.allowLocalOperatorIdentity }),
    ];
    if (invalid.length > 0) {
      log.warn({ problems: invalid }, 'spec is invalid; nothing written');
      await this.reporter.status(sync, buildStatus({ sync, now, outcomes: [], tokens: [], invalid, ...lastRefresh }));
      await this.reporter.event(sync, 'Warning', EventReason.InvalidSpec, invalid.join('; '));
      return {};
    }
    if (sync.spec.suspend) {
      await this.reporter.status(sync, buildStatus({ sync, now, outcomes: [], tokens: [], suspended: true, ...lastRefresh }));
      return {};
    }

    const secretName = sync.spec.secretName ?? DEFAULT_SECRET_NAME;
    const targets = targetNamespaces(sync.spec.namespaces, await this.kube.listNamespaces(), this.selectorExcluded);
    const actual = await this.writer.actual(sync, secretName, targets);

    // Tokens: fetched when the refresh is due, a group has no usable token, or a backoff has ended,
    // and never while one holds, whatever event brought this reconcile.
    const recorded = latest(sync.status?.backoff, this.backoffs.get(name));
    const hold = holdUntil(recorded, sync.metadata.generation, now, this.longestHoldMs());
    const dueAt = sync.status?.nextRefreshTime ? new Date(sync.status.nextRefreshTime) : undefined;
    const due = !hold && (!sync.status?.lastRefreshTime || !dueAt || now >= dueAt || recorded !== undefined);
    const round = await this.tokenCache.obtain(sync, actual, now, due, log, signal, { mayFetch: !hold });
    if (round.kind === 'wait') return { requeueAfterMs: round.afterMs };
    const { tokens, status: tokenStatus, fetched, errors: fetchErrors } = round;
    // Shutting down: the aborted fetch is no failure to report, and nothing more is written.
    if (signal?.aborted) return {};
    const lastRefreshTime = fetched.length > 0 && fetchErrors.length === 0 ? iso(now) : sync.status?.lastRefreshTime;
    // Counted from when the fetch failed, not from when it began: a slow, throttled call must not shorten it.
    const backoff = this.backoffAfter(sync, recorded, this.clock.now(), hold, fetchErrors, log);
    if (backoff) this.backoffs.set(name, backoff);
    else this.backoffs.delete(name);
    this.metrics.fetchFailures(name, backoff?.failures ?? 0);

    // Secrets, then the ServiceAccounts of the namespaces that hold one.
    const desired = desiredSecrets(sync, tokens, targets);
    const actions = plan(desired, actual);
    if (log.isLevelEnabled('debug')) {
      const counts: Record<string, number> = {};
      for (const a of actions) counts[a.kind] = (counts[a.kind] ?? 0) + 1;
      log.debug({ targets: targets.length, refreshed: fetched.length, actions: counts }, 'planned');
    }
    const outcomes = await this.writer.apply(sync, actions, log);
    const accountError = await syncServiceAccounts(this.kube, sync, secretName, inPlace(sync, secretName, targets, actual, outcomes), log, this.writeConcurrency);

    // Status, events, metrics.
    // An expiry ECR did not report (Invalid Date) must not sort first and hide the others.
    const earliest = [...tokens.values()]
      .map((t) => t.expiresAt)
      .filter((d) => !Number.isNaN(d.getTime()))
      .sort((a, b) => a.getTime() - b.getTime())[0];
    const refresh = lastRefreshTime
      ? nextRefreshAt(sync.spec, { lastRefreshTime }, earliest, now, { minIntervalMs: this.minRefreshIntervalMs, jitterKey: name })
      : undefined;
    const fetchError = fetchErrors.length ? distinctMessages(fetchErrors) : undefined;
    await this.reporter.status(
      sync,
      buildStatus({
        sync,
        now,
        outcomes,
        tokens: tokenStatus,
        ...(lastRefreshTime ? { lastRefreshTime } : {}),
        ...(refresh ? { refresh } : {}),
        ...(fetchError ? { fetchError } : {}),
        ...(backoff ? { backoff } : {}),
      }),
    );
    await this.reporter.round(sync, { fetched, fetchErrors, actions, outcomes, refresh, seconds: (this.clock.now().getTime() - now.getTime()) / 1000 }, log);
    return this.outcome({ fetchErrors, backoff, outcomes, accountError, refreshAt: refresh?.at });
  }

  /** The backoff the status records after this round: a new failure extends it, a hold keeps it, a success ends it. */
  private backoffAfter(
    sync: EcrCredentialSync,
    recorded: BackoffStatus | undefined,
    now: Date,
    hold: Date | undefined,
    errors: readonly TokenFetchError[],
    log: Logger,
  ): BackoffStatus | undefined {
    if (errors.length === 0) return hold ? recorded : undefined;
    const failure = { retryable: errors.some((e) => e.retryable), message: distinctMessages(errors) };
    const next = nextBackoff(recorded, sync.metadata.generation, now, failure, this.backoff);
    log.warn({ failures: next.failures, retryable: next.retryable, nextAttemptTime: next.nextAttemptTime }, 'token fetch failed; backing off');
    return next;
  }

  /** No policy delay is longer: a hold beyond it (a leader's clock far ahead, a hand-edited status) is not believed. */
  private longestHoldMs(): number {
    return Math.max(this.backoff.maxMs, this.backoff.permanentMs);
  }

  /** When to run again, and whether this round failed. */
  private outcome(round: {
    fetchErrors: readonly TokenFetchError[];
    backoff: BackoffStatus | undefined;
    outcomes: readonly NamespaceOutcome[];
    accountError: Error | undefined;
    refreshAt: Date | undefined;
  }): ReconcileOutcome {
    const now = this.clock.now().getTime();
    const failed = round.outcomes.filter((o): o is Extract<NamespaceOutcome, { result: 'failed' }> => o.result === 'failed');
    const writeFailure = failed.find((o) => o.reason === Reason.SecretWriteFailed);
    let requeueAfterMs = round.refreshAt ? Math.max(0, round.refreshAt.getTime() - now) : undefined;
    if (round.backoff) requeueAfterMs = Math.max(0, Date.parse(round.backoff.nextAttemptTime) - now);
    // Nor does a finalizer that is removed from a foreign-held secret necessarily reach us soon.
    if (failed.some((o) => o.reason === Reason.SecretConflict || o.reason === Reason.SecretTerminating)) requeueAfterMs = Math.min(requeueAfterMs ?? CONFLICT_RECHECK_MS, CONFLICT_RECHECK_MS);
    // A failed write is retried by the queue's backoff, by its class (a 403 or 422 waits longest).
    const error = writeFailure
      ? new KubeError('write secrets', writeFailure.status ?? 0, `${failed.length} namespaces failed to write; first: ${writeFailure.message}`)
      : round.accountError;
    if (error) return { error };
    if (round.fetchErrors.length > 0) {
      return { error: round.fetchErrors.find((e) => e.retryable) ?? round.fetchErrors[0]!, ...(requeueAfterMs !== undefined ? { requeueAfterMs } : {}) };
    }
    return requeueAfterMs !== undefined ? { requeueAfterMs } : {};
  }

  private async finalize(sync: EcrCredentialSync, log: Logger): Promise<ReconcileOutcome> {
    if (!sync.metadata.finalizers?.includes(FINALIZER)) {
      this.forget(keyOf(sync));
      return {};
    }
    const secretName = sync.spec?.secretName ?? DEFAULT_SECRET_NAME;
    const accountError = await syncServiceAccounts(this.kube, sync, secretName, new Set(), log, this.writeConcurrency);
    if (accountError) return { error: accountError };
    const { removed, left } = await this.writer.removeAll(sync, log);
    if (left > 0) return { error: new KubeError('cleanup', 0, `${left} secrets could not be removed yet`) };
    await this.reporter.event(sync, 'Normal', EventReason.SecretsRemoved, `removed ${removed} secrets before deletion`);
    log.info({ removed }, 'cleaned up before deletion');
    await this.kube.setFinalizers(sync, (sync.metadata.finalizers ?? []).filter((f) => f !== FINALIZER));
    this.forget(keyOf(sync));
    return {};
  }
}

/** The backoff that has seen more failures: the status's, or this process's own when the status write did not stick. */
function latest(status: BackoffStatus | undefined, own: BackoffStatus | undefined): BackoffStatus | undefined {
  if (!status || !own) return status ?? own;
  if (own.observedGeneration !== status.observedGeneration) return (own.observedGeneration ?? 0) > (status.observedGeneration ?? 0) ? own : status;
  return own.failures > status.failures ? own : status;
}

/**
 * Target namespaces where a secret of the sync is in place: it was there when this round began, or
 * this round wrote it. Whatever a write did afterwards (a 500, a run of 409s, a refused replace),
 * the ServiceAccounts keep listing it: pods created meanwhile must still get it.
 */
function inPlace(sync: EcrCredentialSync, secretName: string, targets: readonly string[], actual: readonly ActualSecret[], outcomes: readonly NamespaceOutcome[]): Set<string> {
  const targeted = new Set(targets);
  const found = actual.filter((s) => s.name === secretName && targeted.has(s.namespace) && isOwnSecret(s, sync)).map((s) => s.namespace);
  return new Set([...found, ...outcomes.filter((o) => o.result !== 'failed').map((o) => o.namespace)]);
}

/** Groups that share a base identity fail alike when it does: say it once. */
function distinctMessages(errors: readonly TokenFetchError[]): string {
  return [...new Set(errors.map((e) => e.message))].join('; ');
}
