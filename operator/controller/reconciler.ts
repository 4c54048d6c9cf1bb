// reconcile(name): read the sync and the world, converge, report. Level-triggered: it takes
// no event, and running it twice in a row writes nothing the second time.
import type { EcrCredentialSync } from '../api/types.ts';
import { DEFAULT_SECRET_NAME, EventReason, FINALIZER, Reason } from '../api/constants.ts';
import type { EcrTokenSource, TokenFetchError } from '../aws/token-source.ts';
import { desiredSecrets, type SecretContent } from '../core/desired.ts';
import type { TokenGroup } from '../core/identity.ts';
import { targetNamespaces } from '../core/namespaces.ts';
import { type Action, type ActualSecret, conflictMessage, ownership, plan, upToDate } from '../core/plan.ts';
import { DEFAULT_MIN_REFRESH_INTERVAL_MS, nextRefreshAt } from '../core/schedule.ts';
import { buildStatus, iso, type NamespaceOutcome, statusEqual } from '../core/status.ts';
import { validateSpec } from '../core/validate.ts';
import { accountChanges } from '../core/service-accounts.ts';
import { isStatus, KubeError, type KubeGateway } from '../kube/gateway.ts';
import type { Clock } from '../runtime/clock.ts';
import type { Logger } from '../runtime/log.ts';
import type { Metrics } from '../runtime/metrics.ts';
import { mapLimit } from './limit.ts';
import { OwnWrites } from './own-writes.ts';
import { TokenCache } from './token-cache.ts';

export interface ReconcilerOptions {
  minRefreshIntervalMs?: number;
  writeConcurrency?: number;
  /** The operator's own role (AWS_ROLE_ARN), which chains without spec.identity start from. */
  environmentRoleArn?: string;
}

export interface ReconcileOutcome {
  /** Run again after this long even if nothing changes (the next token refresh). */
  requeueAfterMs?: number;
  /** Failed; the queue backs off. */
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

const UPDATE_ATTEMPTS = 3;
const CONFLICT_RECHECK_MS = 60_000;

export class Reconciler {
  private readonly kube: KubeGateway;
  private readonly clock: Clock;
  private readonly metrics: Metrics;
  private readonly log: Logger;
  private readonly minRefreshIntervalMs: number;
  private readonly writeConcurrency: number;
  private readonly tokenCache: TokenCache;
  /** Namespaces where a foreign secret holds our name: read them, rather than try to create. */
  private readonly conflictHints = new Map<string, Set<string>>();
  private readonly ownWrites = new OwnWrites();

  constructor(deps: ReconcilerDeps) {
    this.kube = deps.kube;
    this.clock = deps.clock;
    this.metrics = deps.metrics;
    this.log = deps.log;
    this.minRefreshIntervalMs = deps.options?.minRefreshIntervalMs ?? DEFAULT_MIN_REFRESH_INTERVAL_MS;
    this.writeConcurrency = deps.options?.writeConcurrency ?? 16;
    this.tokenCache = new TokenCache({ kube: deps.kube, tokens: deps.tokens, metrics: deps.metrics, environmentRoleArn: deps.options?.environmentRoleArn });
  }

  forget(name: string): void {
    this.tokenCache.forget(name);
    this.conflictHints.delete(name);
    this.ownWrites.forget(name);
    this.metrics.syncForgotten(name);
  }

  async reconcile(name: string, signal?: AbortSignal): Promise<ReconcileOutcome> {
    const started = performance.now();
    try {
      const outcome = await this.reconcileOnce(name, signal);
      this.metrics.reconciled(name, outcome.error ? 'error' : 'success', (performance.now() - started) / 1000);
      return outcome;
    } catch (error) {
      this.metrics.reconciled(name, 'error', (performance.now() - started) / 1000);
      return { error: error as Error };
    }
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

    const invalid = validateSpec(sync.spec);
    if (invalid.length > 0) {
      log.warn({ problems: invalid }, 'spec is invalid; nothing written');
      await this.report(sync, buildStatus({ sync, now, outcomes: [], tokens: [], invalid, ...this.lastRefresh(sync) }));
      await this.event(sync, 'Warning', EventReason.InvalidSpec, invalid.join('; '));
      return {};
    }
    if (sync.spec.suspend) {
      await this.report(sync, buildStatus({ sync, now, outcomes: [], tokens: [], suspended: true, ...this.lastRefresh(sync) }));
      return {};
    }

    const targets = targetNamespaces(sync.spec.namespaces, await this.kube.listNamespaces());
    const actual = await this.actualSecrets(sync, sync.spec.secretName ?? DEFAULT_SECRET_NAME, targets);

    // Tokens: fetched when the refresh is due, or when a group has no usable token for its identity.
    const dueAt = sync.status?.nextRefreshTime ? new Date(sync.status.nextRefreshTime) : undefined;
    const due = !sync.status?.lastRefreshTime || !dueAt || now >= dueAt;
    const round = await this.tokenCache.obtain(sync, actual, now, due, log, signal);
    if (round.kind === 'wait') return { requeueAfterMs: round.afterMs };
    const { tokens: tokenMap, status: tokenStatus, fetched: toFetch, errors: fetchErrors } = round;
    const lastRefreshTime = toFetch.length > 0 && fetchErrors.length === 0 ? iso(now) : sync.status?.lastRefreshTime;
    // Shutting down: the aborted fetch is no failure to report, and nothing more is written.
    if (signal?.aborted) return {};

    // Secrets.
    const desired = desiredSecrets(sync, tokenMap, targets);
    const actions = plan(desired, actual);
    if (log.isLevelEnabled('debug')) {
      const counts: Record<string, number> = {};
      for (const a of actions) counts[a.kind] = (counts[a.kind] ?? 0) + 1;
      log.debug({ targets: targets.length, refreshed: toFetch.length, actions: counts }, 'planned');
    }
    const outcomes = await mapLimit(actions, this.writeConcurrency, (action) => this.execute(sync, action, log));
    const perNamespace = outcomes.filter((o): o is NamespaceOutcome => o !== undefined);
    this.rememberConflicts(name, perNamespace);
    const inPlace = new Set(perNamespace.filter((o) => o.result !== 'failed').map((o) => o.namespace));
    const accountError = await this.syncServiceAccounts(sync, desired.secretName, inPlace, log);

    // Status, events, metrics.
    // An expiry ECR did not report (Invalid Date) must not sort first and hide the others.
    const earliest = [...tokenMap.values()]
      .map((t) => t.expiresAt)
      .filter((d) => !Number.isNaN(d.getTime()))
      .sort((a, b) => a.getTime() - b.getTime())[0];
    const refresh = lastRefreshTime
      ? nextRefreshAt(sync.spec, { lastRefreshTime }, earliest, now, { minIntervalMs: this.minRefreshIntervalMs, jitterKey: name })
      : undefined;
    const fetchError = fetchErrors.length ? fetchErrors.map((e) => e.message).join('; ') : undefined;
    const status = buildStatus({
      sync,
      now,
      outcomes: perNamespace,
      tokens: tokenStatus,
      ...(lastRefreshTime ? { lastRefreshTime } : {}),
      ...(refresh ? { refresh } : {}),
      ...(fetchError ? { fetchError } : {}),
    });
    await this.report(sync, status);
    await this.announce(sync, { toFetch, fetchErrors, actions, outcomes: perNamespace, refresh, log });
    const synced = perNamespace.filter((o) => o.result === 'synced').length;
    const failed = perNamespace.filter((o) => o.result === 'failed');
    this.metrics.secretsObserved(name, synced, failed.length);
    if (toFetch.length > 0) {
      this.metrics.refreshCompleted(name, fetchErrors.length ? 'error' : 'success', (this.clock.now().getTime() - now.getTime()) / 1000);
    }

    if (fetchErrors.length > 0) {
      return { error: fetchErrors.find((e) => e.retryable) ?? fetchErrors[0]! };
    }
    const retryable = failed.find((o) => o.result === 'failed' && o.reason === Reason.SecretWriteFailed);
    if (retryable) return { error: new Error(`${failed.length} namespaces failed to write; first: ${(retryable as { message: string }).message}`) };
    if (accountError) return { error: accountError };
    if (!refresh) return {};
    let requeueAfterMs = Math.max(0, refresh.at.getTime() - this.clock.now().getTime());
    // A conflicting secret may be removed by its owner without any event we watch: look again soon.
    if (failed.some((o) => o.result === 'failed' && o.reason === Reason.SecretConflict)) requeueAfterMs = Math.min(requeueAfterMs, CONFLICT_RECHECK_MS);
    return { requeueAfterMs };
  }

  private lastRefresh(sync: EcrCredentialSync): { lastRefreshTime?: string } {
    return sync.status?.lastRefreshTime ? { lastRefreshTime: sync.status.lastRefreshTime } : {};
  }

  private async actualSecrets(sync: EcrCredentialSync, secretName: string, targets: readonly string[]): Promise<ActualSecret[]> {
    const ours = this.ownWrites.overlay(sync.metadata.name, await this.kube.listSyncSecrets(sync.metadata.name), this.clock.now());
    const hints = this.conflictHints.get(sync.metadata.name);
    if (!hints?.size) return ours;
    const targetSet = new Set(targets);
    const known = new Set(ours.map((s) => `${s.namespace}/${s.name}`));
    const extra = await Promise.all(
      [...hints].filter((ns) => targetSet.has(ns) && !known.has(`${ns}/${secretName}`)).map((ns) => this.kube.getSecret(ns, secretName)),
    );
    return [...ours, ...extra.filter((s): s is ActualSecret => s !== undefined)];
  }

  private rememberConflicts(name: string, outcomes: readonly NamespaceOutcome[]): void {
    const conflicts = outcomes.filter((o) => o.result === 'failed' && o.reason === Reason.SecretConflict).map((o) => o.namespace);
    if (conflicts.length) this.conflictHints.set(name, new Set(conflicts));
    else this.conflictHints.delete(name);
  }

  private async execute(sync: EcrCredentialSync, action: Action, log: Logger): Promise<NamespaceOutcome | undefined> {
    const { namespace, name } = action;
    const conflict = (message: string): NamespaceOutcome => ({ namespace, result: 'failed', reason: Reason.SecretConflict, message });
    try {
      switch (action.kind) {
        case 'unchanged':
          return { namespace, result: 'synced' };
        case 'keep':
          return { namespace, result: 'kept' };
        case 'pending':
          return { namespace, result: 'failed', reason: Reason.TokenFetchFailed, message: `no token yet for ${namespace}/${name}` };
        case 'conflict':
          return conflict(action.message);
        case 'create':
          return await this.create(sync, namespace, name, action.content, conflict);
        case 'update':
          return await this.update(sync, action.actual, action.content, conflict, 1);
        case 'delete':
          await this.write('delete', () => this.kube.deleteSecret(action.actual));
          log.info({ namespace, secret: name }, 'removed secret no longer targeted');
          return undefined;
      }
    } catch (error) {
      if (action.kind === 'delete' && (isStatus(error, 404) || isStatus(error, 409))) return undefined;
      const message = error instanceof Error ? error.message : String(error);
      log.warn({ namespace, secret: name, action: action.kind, status: (error as KubeError).status }, message);
      return { namespace, result: 'failed', reason: Reason.SecretWriteFailed, message };
    }
  }

  private async write<T>(verb: 'create' | 'update' | 'delete', fn: () => Promise<T>): Promise<T> {
    try {
      const result = await fn();
      this.metrics.secretWritten(verb, 'success');
      return result;
    } catch (error) {
      this.metrics.secretWritten(verb, 'error');
      throw error;
    }
  }

  private async create(
    sync: EcrCredentialSync,
    namespace: string,
    name: string,
    content: SecretContent,
    conflict: (message: string) => NamespaceOutcome,
  ): Promise<NamespaceOutcome | undefined> {
    try {
      const written = await this.write('create', () => this.kube.createSecret(namespace, name, content));
      this.ownWrites.remember(sync.metadata.name, namespace, name, written, this.clock.now());
      return { namespace, result: 'synced', wrote: 'created' };
    } catch (error) {
      if (isStatus(error, 404)) return undefined; // the namespace went away meanwhile
      if (!isStatus(error, 409)) throw error;
      const existing = await this.kube.getSecret(namespace, name);
      if (!existing) throw error;
      return this.converge(sync, existing, content, conflict, 1);
    }
  }

  private async update(
    sync: EcrCredentialSync,
    actual: ActualSecret,
    content: SecretContent,
    conflict: (message: string) => NamespaceOutcome,
    attempt: number,
  ): Promise<NamespaceOutcome | undefined> {
    try {
      const written = await this.write('update', () => this.kube.updateSecret(actual, content));
      this.ownWrites.remember(sync.metadata.name, actual.namespace, actual.name, written, this.clock.now());
      return { namespace: actual.namespace, result: 'synced', wrote: 'updated' };
    } catch (error) {
      if (isStatus(error, 404)) return this.create(sync, actual.namespace, actual.name, content, conflict);
      if (!isStatus(error, 409) || attempt >= UPDATE_ATTEMPTS) throw error;
      const fresh = await this.kube.getSecret(actual.namespace, actual.name);
      if (!fresh) return this.create(sync, actual.namespace, actual.name, content, conflict);
      return this.converge(sync, fresh, content, conflict, attempt + 1);
    }
  }

  /** Decide again on a freshly read secret: someone else's, already right, or ours to update. */
  private converge(
    sync: EcrCredentialSync,
    existing: ActualSecret,
    content: SecretContent,
    conflict: (message: string) => NamespaceOutcome,
    attempt: number,
  ): Promise<NamespaceOutcome | undefined> | NamespaceOutcome {
    const owner = ownership(existing, sync.metadata.name);
    // Word it as plan() does, so the next reconcile, which finds the conflict there, reports the same status.
    if (owner !== 'ours') return conflict(conflictMessage(existing, sync.metadata.name));
    if (upToDate(content, existing)) return { namespace: existing.namespace, result: 'synced' };
    return this.update(sync, existing, content, conflict, attempt);
  }

  /**
   * Lists the secret in the chosen ServiceAccounts' imagePullSecrets where the secret is in place,
   * and takes out entries this sync added elsewhere. Returns an error to retry on, if any patch failed.
   */
  private async syncServiceAccounts(sync: EcrCredentialSync, secretName: string, inPlace: ReadonlySet<string>, log: Logger): Promise<Error | undefined> {
    const changes = accountChanges(sync.metadata.name, secretName, sync.spec?.serviceAccounts, inPlace, await this.kube.listServiceAccounts());
    let failed: Error | undefined;
    await mapLimit(changes, this.writeConcurrency, async (change) => {
      try {
        await this.kube.patchServiceAccount(change);
        log.info({ namespace: change.account.namespace, serviceAccount: change.account.name, imagePullSecrets: change.imagePullSecrets }, 'updated ServiceAccount imagePullSecrets');
      } catch (error) {
        if (isStatus(error, 404)) return;
        failed ??= error as Error;
        log.warn({ namespace: change.account.namespace, serviceAccount: change.account.name, err: (error as Error).message }, 'could not update ServiceAccount');
      }
    });
    return failed;
  }

  private async report(sync: EcrCredentialSync, status: ReturnType<typeof buildStatus>): Promise<void> {
    if (statusEqual(sync.status, status)) return;
    await this.kube.patchStatus(sync.metadata.name, status);
  }

  private async event(sync: EcrCredentialSync, type: 'Normal' | 'Warning', reason: string, message: string): Promise<void> {
    try {
      await this.kube.recordEvent(sync, type, reason, message);
    } catch (error) {
      this.log.debug({ sync: sync.metadata.name, reason, err: (error as Error).message }, 'could not record event');
    }
  }

  private async announce(
    sync: EcrCredentialSync,
    info: {
      toFetch: readonly TokenGroup[];
      fetchErrors: readonly TokenFetchError[];
      actions: readonly Action[];
      outcomes: readonly NamespaceOutcome[];
      refresh: ReturnType<typeof nextRefreshAt> | undefined;
      log: Logger;
    },
  ): Promise<void> {
    const { toFetch, fetchErrors, actions, outcomes, refresh, log } = info;
    if (toFetch.length > 0 && fetchErrors.length === 0) {
      const regions = [...new Set(toFetch.map((g) => g.region))].sort().join(', ');
      const message = `fetched ${toFetch.length} ECR token(s) for ${regions}${refresh ? `; next refresh ${iso(refresh.at)} (${refresh.driver})` : ''}`;
      log.info({ tokens: toFetch.length, regions, nextRefresh: refresh ? iso(refresh.at) : undefined }, 'tokens refreshed');
      await this.event(sync, 'Normal', EventReason.TokenRefreshed, message);
    }
    for (const error of fetchErrors) await this.event(sync, 'Warning', EventReason.TokenFetchFailed, error.message);
    const failedNs = new Set(outcomes.filter((o) => o.result === 'failed').map((o) => o.namespace));
    const count = (kind: Action['kind']) => actions.filter((a) => a.kind === kind && !failedNs.has(a.namespace)).length;
    // Counted from what was written: a planned update that found the secret already right wrote nothing.
    const created = outcomes.filter((o) => o.result === 'synced' && o.wrote === 'created').length;
    const updated = outcomes.filter((o) => o.result === 'synced' && o.wrote === 'updated').length;
    const deleted = count('delete');
    if (created + updated + deleted > 0) {
      const message = `secret ${sync.spec.secretName ?? DEFAULT_SECRET_NAME}: created ${created}, updated ${updated}, removed ${deleted}`;
      log.info({ created, updated, deleted }, 'secrets written');
      await this.event(sync, 'Normal', EventReason.SecretsSynced, message);
    }
    let reported = 0;
    for (const o of outcomes) {
      if (o.result !== 'failed' || o.reason === Reason.TokenFetchFailed || reported >= 5) continue;
      reported++;
      await this.event(sync, 'Warning', o.reason === Reason.SecretConflict ? EventReason.SecretConflict : EventReason.SecretWriteFailed, o.message);
    }
  }

  private async finalize(sync: EcrCredentialSync, log: Logger): Promise<ReconcileOutcome> {
    if (!sync.metadata.finalizers?.includes(FINALIZER)) {
      this.forget(sync.metadata.name);
      return {};
    }
    const accountError = await this.syncServiceAccounts(sync, sync.spec?.secretName ?? DEFAULT_SECRET_NAME, new Set(), log);
    if (accountError) return { error: accountError };
    const secrets = (await this.kube.listSyncSecrets(sync.metadata.name)).filter((s) => ownership(s, sync.metadata.name) === 'ours');
    const results = await mapLimit(secrets, this.writeConcurrency, async (secret) => {
      try {
        await this.write('delete', () => this.kube.deleteSecret(secret));
        return true;
      } catch (error) {
        if (isStatus(error, 404)) return true;
        log.warn({ namespace: secret.namespace, err: (error as Error).message }, 'could not remove secret');
        return false;
      }
    });
    const left = results.filter((ok) => !ok).length;
    if (left > 0) return { error: new KubeError('cleanup', 0, `${left} secrets could not be removed yet`) };
    await this.event(sync, 'Normal', EventReason.SecretsRemoved, `removed ${secrets.length} secrets before deletion`);
    log.info({ removed: secrets.length }, 'cleaned up before deletion');
    await this.kube.setFinalizers(sync, (sync.metadata.finalizers ?? []).filter((f) => f !== FINALIZER));
    this.forget(sync.metadata.name);
    return {};
  }
}
