import { Reason } from '../api/constants.ts';
import type { Condition } from '../api/types.ts';
import { countSyncStates, syncState, type SyncObject, type SyncState } from './sync-state.ts';

const ready = (reason: string, observedGeneration?: number): Condition => ({
  type: 'Ready',
  status: reason === Reason.Synced ? 'True' : 'False',
  reason,
  message: '',
  lastTransitionTime: '2025-01-15T00:00:00Z',
  ...(observedGeneration !== undefined ? { observedGeneration } : {}),
});

describe('the state of a sync', () => {
  it.each<[string, SyncObject, SyncState]>([
    ['a sync never reconciled has no status and is active', { metadata: { generation: 1 }, spec: {} }, 'active'],
    ['a sync without a spec is active (the reconcile will say what is wrong)', {}, 'active'],
    ['a synced sync is active', { metadata: { generation: 2 }, spec: {}, status: { conditions: [ready(Reason.Synced, 2)] } }, 'active'],
    ['a sync whose token fetch fails is active: it is retried', { metadata: { generation: 1 }, spec: {}, status: { conditions: [ready(Reason.TokenFetchFailed, 1)] } }, 'active'],
    ['a sync with spec.suspend true is suspended', { metadata: { generation: 3 }, spec: { suspend: true } }, 'suspended'],
    ['a sync with spec.suspend false is active', { metadata: { generation: 3 }, spec: { suspend: false } }, 'active'],
    ['a suspended sync stays suspended whatever its status says', { metadata: { generation: 3 }, spec: { suspend: true }, status: { conditions: [ready(Reason.InvalidSpec, 3)] } }, 'suspended'],
    ['a sync found invalid in its current generation is invalid', { metadata: { generation: 4 }, spec: {}, status: { conditions: [ready(Reason.InvalidSpec, 4)] } }, 'invalid'],
    ['a sync found invalid without generations on record is invalid', { spec: {}, status: { conditions: [ready(Reason.InvalidSpec)] } }, 'invalid'],
    ['a sync found invalid in an earlier generation is active: its new spec awaits a reconcile', { metadata: { generation: 5 }, spec: {}, status: { conditions: [ready(Reason.InvalidSpec, 4)] } }, 'active'],
    ['a sync whose only condition is not Ready is active', { metadata: { generation: 1 }, spec: {}, status: { conditions: [{ ...ready(Reason.InvalidSpec, 1), type: 'TokenExpiryTrusted' }] } }, 'active'],
  ])('%s', (_name, sync, state) => {
    expect(syncState(sync)).toBe(state);
  });

  it('counts syncs by state, with 0 for a state no sync is in', () => {
    const syncs: SyncObject[] = [
      { spec: {} },
      { spec: {}, status: { conditions: [ready(Reason.Synced)] } },
      { spec: { suspend: true } },
    ];
    expect(countSyncStates(syncs)).toEqual({ active: 2, suspended: 1, invalid: 0 });
    expect(countSyncStates([])).toEqual({ active: 0, suspended: 0, invalid: 0 });
  });
});
