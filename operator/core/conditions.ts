// Conditions that keep their lastTransitionTime unless their status really changes.
import type { Condition, ConditionStatus } from '../api/types.ts';

export interface ConditionInput {
  type: string;
  status: ConditionStatus;
  reason: string;
  message: string;
}

export function setCondition(existing: readonly Condition[] | undefined, input: ConditionInput, generation: number | undefined, now: Date): Condition[] {
  const others = (existing ?? []).filter((c) => c.type !== input.type);
  const previous = existing?.find((c) => c.type === input.type);
  const lastTransitionTime =
    previous && previous.status === input.status ? previous.lastTransitionTime : now.toISOString().replace(/\.\d{3}Z$/, 'Z');
  const condition: Condition = { ...input, lastTransitionTime, ...(generation !== undefined ? { observedGeneration: generation } : {}) };
  return [...others, condition].sort((a, b) => (a.type < b.type ? -1 : 1));
}

export function findCondition(conditions: readonly Condition[] | undefined, type: string): Condition | undefined {
  return conditions?.find((c) => c.type === type);
}
