// What the work queue does with a sync after its reconcile: a failure backs off by its retry class,
// unless the reconcile chose the time itself (a token-fetch backoff, kept in the status); a
// success forgets past failures and comes back for the next refresh.
import type { WorkQueue } from './queue.ts';
import type { ReconcileOutcome } from './reconciler.ts';

export interface Requeued {
  /** When the sync runs again, if anything is planned. */
  delayMs?: number;
  failed: boolean;
  retryable?: boolean;
}

export function requeue(queue: WorkQueue, name: string, outcome: ReconcileOutcome): Requeued {
  if (!outcome.error) {
    queue.forget(name);
    if (outcome.requeueAfterMs !== undefined) queue.addAfter(name, outcome.requeueAfterMs);
    return { failed: false, ...(outcome.requeueAfterMs !== undefined ? { delayMs: outcome.requeueAfterMs } : {}) };
  }
  const retryable = (outcome.error as { retryable?: boolean }).retryable ?? true;
  if (outcome.requeueAfterMs !== undefined) {
    queue.addAfter(name, outcome.requeueAfterMs);
    return { failed: true, retryable, delayMs: outcome.requeueAfterMs };
  }
  return { failed: true, retryable, delayMs: queue.addRateLimited(name, retryable) };
}
