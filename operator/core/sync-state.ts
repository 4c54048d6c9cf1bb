// What a sync asks of the leader, judged from the object alone: syncs that are `active` are
// reconciled at each refresh, so a leader with some that reconciles none is stuck (the
// EcrSyncNoReconcile alert). A suspended sync, or one whose current spec was found invalid, is
// not requeued until its spec changes, so a cluster of only those has nothing to reconcile.
import { ConditionType, Reason } from '../api/constants.ts';
import type { Condition } from '../api/types.ts';
import { findCondition } from './conditions.ts';

export const SYNC_STATES = ['active', 'suspended', 'invalid'] as const;
export type SyncState = (typeof SYNC_STATES)[number];

export interface SyncObject {
  metadata?: { generation?: number };
  spec?: { suspend?: boolean };
  status?: { conditions?: Condition[] };
}

export function syncState(sync: SyncObject): SyncState {
  if (sync.spec?.suspend === true) return 'suspended';
  const ready = findCondition(sync.status?.conditions, ConditionType.Ready);
  // A verdict on an earlier generation: the spec has changed since, and the change is reconciled.
  const stale = ready?.observedGeneration !== undefined && sync.metadata?.generation !== undefined && ready.observedGeneration !== sync.metadata.generation;
  if (ready?.reason === Reason.InvalidSpec && !stale) return 'invalid';
  return 'active';
}

/** How many syncs are in each state; every state is present, 0 when none is in it. */
export function countSyncStates(syncs: Iterable<SyncObject>): Record<SyncState, number> {
  const counts: Record<SyncState, number> = { active: 0, suspended: 0, invalid: 0 };
  for (const sync of syncs) counts[syncState(sync)]++;
  return counts;
}
