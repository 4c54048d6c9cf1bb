import type { Condition } from '../api/types.ts';
import { findCondition, setCondition } from './conditions.ts';

const T0 = new Date('2025-01-15T01:00:00.123Z');
const T1 = new Date('2025-01-15T02:00:00.456Z');
const ready = (status: Condition['status'], reason = 'Synced', message = 'ok') => ({ type: 'Ready', status, reason, message });

describe('setCondition', () => {
  it('a new condition transitions now, to the second', () => {
    expect(setCondition(undefined, ready('True'), 3, T0)).toEqual([{ ...ready('True'), lastTransitionTime: '2025-01-15T01:00:00Z', observedGeneration: 3 }]);
  });

  it.each<[string, Condition['status'], Condition['status'], string, string]>([
    ['the same status keeps lastTransitionTime', 'True', 'True', 'Synced', '2025-01-15T01:00:00Z'],
    ['the same status with a new reason and message still keeps lastTransitionTime', 'False', 'False', 'TokenFetchFailed', '2025-01-15T01:00:00Z'],
    ['a change from True to False moves lastTransitionTime', 'True', 'False', 'TokenFetchFailed', '2025-01-15T02:00:00Z'],
    ['a change from Unknown to True moves lastTransitionTime', 'Unknown', 'True', 'Synced', '2025-01-15T02:00:00Z'],
  ])('%s', (_name, before, after, reason, expected) => {
    const first = setCondition(undefined, ready(before, 'First', 'first'), 1, T0);
    const [second] = setCondition(first, ready(after, reason, 'second'), 2, T1);
    expect(second).toEqual({ type: 'Ready', status: after, reason, message: 'second', lastTransitionTime: expected, observedGeneration: 2 });
  });

  it('leaves other conditions alone and keeps them sorted by type', () => {
    const other: Condition = { type: 'TokenExpiryTrusted', status: 'True', reason: 'ExpiryAsReported', message: 'x', lastTransitionTime: '2020-01-01T00:00:00Z' };
    const zed: Condition = { type: 'Zed', status: 'False', reason: 'r', message: 'm', lastTransitionTime: '2020-01-01T00:00:00Z' };
    const result = setCondition([zed, other], ready('True'), 1, T0);
    expect(result.map((c) => c.type)).toEqual(['Ready', 'TokenExpiryTrusted', 'Zed']);
    expect(result[1]).toBe(other);
    expect(result[2]).toBe(zed);
  });

  it('omits observedGeneration when the generation is unknown', () => {
    expect(setCondition(undefined, ready('True'), undefined, T0)[0]).not.toHaveProperty('observedGeneration');
  });

  it('does not change the list it was given', () => {
    const existing = setCondition(undefined, ready('True'), 1, T0);
    const copy = JSON.parse(JSON.stringify(existing));
    setCondition(existing, ready('False', 'X'), 2, T1);
    expect(existing).toEqual(copy);
  });
});

describe('findCondition', () => {
  it('finds a condition by type, or nothing', () => {
    const conditions = setCondition(undefined, ready('True'), 1, T0);
    expect(findCondition(conditions, 'Ready')?.status).toBe('True');
    expect(findCondition(conditions, 'Other')).toBeUndefined();
    expect(findCondition(undefined, 'Ready')).toBeUndefined();
  });
});
