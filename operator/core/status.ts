// The status a reconcile reports, built from what it saw and did.
import type { BackoffStatus, Condition, EcrCredentialSync, EcrCredentialSyncStatus, NamespaceFailure, TokenStatus } from '../api/types.ts';
import { ConditionType, Reason } from '../api/constants.ts';
import { setCondition } from './conditions.ts';
import type { RefreshPlan } from './schedule.ts';

export const MAX_FAILURES_LISTED = 10;

export type NamespaceOutcome =
  /** `wrote`: what this reconcile wrote there; absent when the secret was already right. */
  | { namespace: string; result: 'synced'; wrote?: 'created' | 'updated' | 'replaced' }
  | { namespace: string; result: 'kept' }
  /** `status`: the HTTP status of a failed write. */
  | { namespace: string; result: 'failed'; reason: string; message: string; status?: number };

export interface StatusInput {
  sync: EcrCredentialSync;
  now: Date;
  outcomes: readonly NamespaceOutcome[];
  tokens: readonly TokenStatus[];
  lastRefreshTime?: string;
  refresh?: RefreshPlan;
  fetchError?: string;
  /** Present while token fetches fail: the next attempt is the next refresh. */
  backoff?: BackoffStatus;
  invalid?: string[];
  suspended?: boolean;
}

export function iso(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export function buildStatus(input: StatusInput): EcrCredentialSyncStatus {
  const { sync, now } = input;
  const generation = sync.metadata.generation;
  let conditions: Condition[] | undefined = sync.status?.conditions;
  const failures: NamespaceFailure[] = [];
  let synced = 0;
  let failed = 0;
  for (const o of input.outcomes) {
    if (o.result === 'synced') synced++;
    if (o.result === 'failed') {
      failed++;
      if (failures.length < MAX_FAILURES_LISTED) failures.push({ namespace: o.namespace, reason: o.reason, message: o.message });
    }
  }
  const firstFailure = input.outcomes.find((o) => o.result === 'failed') as Extract<NamespaceOutcome, { result: 'failed' }> | undefined;
  const conflict = input.outcomes.find((o) => o.result === 'failed' && o.reason === Reason.SecretConflict);

  let ready: { status: 'True' | 'False'; reason: string; message: string };
  if (input.invalid?.length) {
    ready = { status: 'False', reason: Reason.InvalidSpec, message: input.invalid.join('; ') };
  } else if (input.suspended) {
    ready = { status: 'False', reason: Reason.Suspended, message: 'spec.suspend is true; secrets are left as they are' };
  } else if (input.fetchError ?? input.backoff) {
    const retry = input.backoff ? `; next attempt ${input.backoff.nextAttemptTime}` : '';
    ready = { status: 'False', reason: Reason.TokenFetchFailed, message: `${input.fetchError ?? input.backoff!.message}; existing secrets are left untouched${retry}` };
  } else if (conflict) {
    ready = { status: 'False', reason: Reason.SecretConflict, message: `${failed} of ${input.outcomes.length} namespaces failed; first: ${(conflict as { message: string }).message}` };
  } else if (firstFailure) {
    ready = { status: 'False', reason: firstFailure.reason, message: `${failed} of ${input.outcomes.length} namespaces failed; first: ${firstFailure.message}` };
  } else if (input.outcomes.length === 0) {
    ready = { status: 'True', reason: Reason.NoTargetNamespaces, message: 'no namespace matches spec.namespaces yet' };
  } else {
    ready = { status: 'True', reason: Reason.Synced, message: `${synced} namespaces hold the current token` };
  }
  conditions = setCondition(conditions, { type: ConditionType.Ready, ...ready }, generation, now);
  if (input.refresh) {
    const e = input.refresh.expiry;
    conditions = setCondition(conditions, { type: ConditionType.TokenExpiryTrusted, status: e.status, reason: e.reason, message: e.message }, generation, now);
  }

  const expiries = input.tokens.map((t) => t.expiresAt).sort();
  const status: EcrCredentialSyncStatus = {
    ...(generation !== undefined ? { observedGeneration: generation } : {}),
    conditions,
    ...(input.lastRefreshTime ? { lastRefreshTime: input.lastRefreshTime } : {}),
    ...(expiries[0] ? { tokenExpiresAt: expiries[0] } : {}),
    ...(input.backoff
      ? { nextRefreshTime: input.backoff.nextAttemptTime }
      : input.refresh && !input.suspended && !input.invalid?.length
        ? { nextRefreshTime: iso(input.refresh.at) }
        : {}),
    ...(input.tokens.length ? { tokens: [...input.tokens] } : {}),
    namespaces: { targeted: input.outcomes.length, synced, failed },
    ...(failures.length ? { failures } : {}),
    ...(input.backoff ? { backoff: input.backoff } : {}),
  };
  return status;
}

function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value as Record<string, unknown>)
        .filter(([, v]) => v !== undefined && v !== null)
        .sort(([a], [b]) => (a < b ? -1 : 1))
        .map(([k, v]) => [k, canonical(v)]),
    );
  }
  return value;
}

export function statusEqual(a: EcrCredentialSyncStatus | undefined, b: EcrCredentialSyncStatus | undefined): boolean {
  return JSON.stringify(canonical(a ?? {})) === JSON.stringify(canonical(b ?? {}));
}
