// What a reconcile tells the world: the sync's status (written only when it changed), Events
// for what was fetched and written or went wrong, and the per-sync metrics.
import type { EcrCredentialSync, EcrCredentialSyncStatus } from '../api/types.ts';
import { DEFAULT_SECRET_NAME, EventReason, Reason } from '../api/constants.ts';
import type { TokenFetchError } from '../aws/token-source.ts';
import { type TokenGroup, tokenScope } from '../core/identity.ts';
import type { Action } from '../core/plan.ts';
import type { RefreshPlan } from '../core/schedule.ts';
import { iso, type NamespaceOutcome, statusEqual } from '../core/status.ts';
import type { KubeGateway } from '../kube/gateway.ts';
import type { Logger } from '../runtime/log.ts';
import type { Metrics } from '../runtime/metrics.ts';
import { keyOf } from '../core/sync-ref.ts';

/** At most this many Warning events per reconcile for failed namespaces; the status lists them. */
const FAILURE_EVENTS = 5;

export interface RoundReport {
  fetched: readonly TokenGroup[];
  fetchErrors: readonly TokenFetchError[];
  actions: readonly Action[];
  outcomes: readonly NamespaceOutcome[];
  refresh: RefreshPlan | undefined;
  /** Seconds the fetch and writes took, when tokens were fetched. */
  seconds: number;
}

export class StatusReporter {
  private readonly kube: KubeGateway;
  private readonly metrics: Metrics;
  private readonly log: Logger;

  constructor(deps: { kube: KubeGateway; metrics: Metrics; log: Logger }) {
    this.kube = deps.kube;
    this.metrics = deps.metrics;
    this.log = deps.log;
  }

  async status(sync: EcrCredentialSync, status: EcrCredentialSyncStatus): Promise<void> {
    if (statusEqual(sync.status, status)) return;
    await this.kube.patchStatus(sync, status);
  }

  /** Events are best effort: losing one must not fail the reconcile. */
  async event(sync: EcrCredentialSync, type: 'Normal' | 'Warning', reason: string, message: string): Promise<void> {
    try {
      await this.kube.recordEvent(sync, type, reason, message);
    } catch (error) {
      this.log.debug({ sync: keyOf(sync), reason, err: (error as Error).message }, 'could not record event');
    }
  }

  /** Events and metrics for one round of fetches and writes. */
  async round(sync: EcrCredentialSync, report: RoundReport, log: Logger): Promise<void> {
    const { fetched, fetchErrors, actions, outcomes, refresh } = report;
    const name = keyOf(sync);
    if (fetched.length > 0 && fetchErrors.length === 0) {
      const regions = [...new Set(fetched.map(tokenScope))].sort().join(', ');
      const message = `fetched ${fetched.length} ECR token(s) for ${regions}${refresh ? `; next refresh ${iso(refresh.at)} (${refresh.driver})` : ''}`;
      log.info({ tokens: fetched.length, regions, nextRefresh: refresh ? iso(refresh.at) : undefined }, 'tokens refreshed');
      await this.event(sync, 'Normal', EventReason.TokenRefreshed, message);
    }
    for (const error of fetchErrors) await this.event(sync, 'Warning', EventReason.TokenFetchFailed, error.message);
    const failedNs = new Set(outcomes.filter((o) => o.result === 'failed').map((o) => o.namespace));
    // Counted from what was written: a planned update that found the secret already right wrote nothing.
    const wrote = (what: string) => outcomes.filter((o) => o.result === 'synced' && o.wrote === what).length;
    const created = wrote('created');
    const updated = wrote('updated');
    const replaced = outcomes.filter((o) => o.result === 'synced' && o.wrote === 'replaced');
    const deleted = actions.filter((a) => a.kind === 'delete' && !failedNs.has(a.namespace)).length;
    if (created + updated + replaced.length + deleted > 0) {
      const message = `secret ${sync.spec.secretName ?? DEFAULT_SECRET_NAME}: created ${created}, updated ${updated}, ${replaced.length ? `replaced ${replaced.length}, ` : ''}removed ${deleted}`;
      log.info({ created, updated, replaced: replaced.length, deleted }, 'secrets written');
      await this.event(sync, 'Normal', EventReason.SecretsSynced, message);
    }
    for (const o of replaced.slice(0, FAILURE_EVENTS)) {
      const action = actions.find((a) => a.kind === 'replace' && a.namespace === o.namespace);
      const why = action?.kind === 'replace' ? (action.actual.immutable ? 'it was immutable' : `its type was ${action.actual.type}`) : 'it could not be updated';
      await this.event(sync, 'Normal', EventReason.SecretReplaced, `secret ${o.namespace}/${action?.name ?? ''} was deleted and created again: ${why}`);
    }
    let reported = 0;
    for (const o of outcomes) {
      if (o.result !== 'failed' || o.reason === Reason.TokenFetchFailed || reported >= FAILURE_EVENTS) continue;
      reported++;
      await this.event(sync, 'Warning', o.reason === Reason.SecretConflict ? EventReason.SecretConflict : EventReason.SecretWriteFailed, o.message);
    }
    this.metrics.secretsObserved(name, outcomes.filter((o) => o.result === 'synced').length, failedNs.size);
    if (fetched.length > 0) this.metrics.refreshCompleted(name, fetchErrors.length ? 'error' : 'success', report.seconds);
  }
}
