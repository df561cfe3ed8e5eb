// Status conditions, Kubernetes style: one entry per type; lastTransitionTime only moves when
// the status flips, so `kubectl describe` shows when something really changed.
import type { Condition, ConditionStatus } from "./types.ts";

export interface ConditionInput {
  type: string;
  status: ConditionStatus;
  reason: string;
  message: string;
}

export function setCondition(existing: readonly Condition[] | undefined, next: ConditionInput, now: string, generation?: number): Condition[] {
  const list = [...(existing ?? [])];
  const i = list.findIndex((c) => c.type === next.type);
  const prev = i >= 0 ? list[i] : undefined;
  const cond: Condition = {
    ...next,
    lastTransitionTime: prev && prev.status === next.status ? prev.lastTransitionTime : now,
  };
  if (generation !== undefined) cond.observedGeneration = generation;
  if (i >= 0) list[i] = cond;
  else list.push(cond);
  return list;
}

export function getCondition(list: readonly Condition[] | undefined, type: string): Condition | undefined {
  return list?.find((c) => c.type === type);
}
